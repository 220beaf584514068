"""Shared fixtures. Tests needing the real VGG-19 weights are marked ``weights``."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers.nst import vgg
from helpers.runtime import cache_dir


def _weights_available() -> bool:
    return bool(os.environ.get("VGG19_WEIGHTS")) or (cache_dir() / vgg.CACHE_NAME).is_file()


def pytest_collection_modifyitems(config, items):
    if _weights_available():
        return
    skip = pytest.mark.skip(reason="VGG-19 weights not fetched (run `make weights`)")
    for item in items:
        if "weights" in item.keywords:
            item.add_marker(skip)


def interruptible(cmd: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(cmd)`` with text pipes for stdout and stderr, for a child that the
    test interrupts with a real SIGINT: the child starts with Ctrl-C's default action.

    A test run started in the background by a shell without job control inherits SIGINT
    *ignored*, and a Python child that starts with SIGINT ignored never raises
    KeyboardInterrupt, so the child restores the default before it runs."""
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


UNREACHABLE = "http://127.0.0.1:9"
"""The discard port on this machine: a connection there is refused at once."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test downloads anything: HTTP(S) goes through a proxy at an unreachable local address,
    in process and in subprocesses (which inherit the environment), with or without a network.
    (Kernels talk to their clients over ZeroMQ, not HTTP, so notebooks still run.)"""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, UNREACHABLE)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def caffe_state():
    return vgg.load_caffe_state_dict(log=lambda *_: None)


@pytest.fixture(scope="session")
def random_weights() -> str:
    """The weight set of a deterministic random VGG-19: ``weights=random_weights`` for
    :mod:`helpers.nst` calls, ``["--weights", random_weights]`` for ``python -m helpers
    stylize``.  For tests whose subject (the loop, the CLI's plumbing) does not depend on the
    trained weights: no download, same architecture, same numbers in every run."""
    return "random"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def file_hashes(*paths: Path) -> dict[str, str]:
    """sha256 of each existing file, to prove inputs were not changed."""
    return {
        str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if Path(p).is_file()
    }


LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""An opener that reaches localhost directly (the tests' proxy points nowhere)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_server(
    app: str, root: Path, log_path: Path, *, env: dict | None = None, args: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """``python -m <app>`` (``jupyter_server`` or ``jupyterlab``) from this Python, rooted at
    ``root`` on a free localhost port with a random token, logging to ``log_path``; yields
    ``(base_url, token)`` once it answers, and stops it afterwards (also on failure)."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *args,
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    LOCAL.open(f"{base}/api/status?token={token}", timeout=5).close()
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"{app} did not start:\n{log_path.read_text()[-2000:]}")
                    time.sleep(0.3)
            yield base, token
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def fast(random_weights):
    """Options of every quick style-transfer run: the random VGG-19, no progress reports."""
    return {"weights": random_weights, "progress": False}


@pytest.fixture
def images():
    """A smooth 32x32 content image and a 40x40 noise style image (float32 in [0, 1])."""
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    content = np.stack([xx, yy, 0.5 * (xx + yy)], axis=2).astype(np.float32)
    style = g.random((40, 40, 3)).astype(np.float32)
    return content, style
