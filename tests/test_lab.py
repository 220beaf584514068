"""Interactive use: a Jupyter server on localhost serves the series with the project's kernel."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from helpers import report
from helpers.runtime import ROOT

pytest.importorskip("jupyter_server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for localhost


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with _LOCAL.open(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A jupyter server rooted at the repository on a random localhost port, with a token."""
    tmp_path = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT}",
            "--allow-root",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "jupyter server did not start:\n"
                        + (tmp_path / "server.log").read_text()[-2000:]
                    )
                time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_server_lists_the_series_and_the_project_kernel(server):
    base, token = server
    listing = _get(f"{base}/api/contents/notebooks", token)
    names = {item["name"] for item in listing["content"] if item["type"] == "notebook"}
    assert {nb.name for nb in report.discover()} <= names
    specs = _get(f"{base}/api/kernelspecs", token)
    assert specs["default"] in specs["kernelspecs"]
    spec = specs["kernelspecs"]["python3"]["spec"]
    assert spec["language"] == "python"


def test_server_refuses_requests_without_the_token(server):
    base, _ = server
    with pytest.raises(urllib.error.HTTPError) as info:
        _LOCAL.open(f"{base}/api/contents/notebooks", timeout=5)
    assert info.value.code == 403
