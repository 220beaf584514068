"""Interactive use: a Jupyter server on localhost serves the series with the project's kernel."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from conftest import LOCAL, jupyter_server

from helpers import report
from helpers.runtime import ROOT

pytest.importorskip("jupyter_server")


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with LOCAL.open(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A jupyter server rooted at the repository on a random localhost port, with a token."""
    tmp_path = tmp_path_factory.mktemp("lab")
    env = {"JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    with jupyter_server("jupyter_server", ROOT, tmp_path / "server.log", env=env) as started:
        yield started


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
        LOCAL.open(f"{base}/api/contents/notebooks", timeout=5)
    assert info.value.code == 403
