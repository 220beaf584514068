"""Shared fixtures. Tests needing the real VGG-19 weights are marked ``weights``."""

from __future__ import annotations

import hashlib
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.nst import vgg
from helpers.runtime import cache_dir


def _weights_available() -> bool:
    import os

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
