"""helpers.assets: public originals fetched from a mirror folder, an http:// mirror or their URLs,
verified by sha256, all or nothing, one clear line on failure, a re-run does nothing."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest
from conftest import UNREACHABLE  # every test's downloads go there (conftest.no_network)

from helpers import assets
from helpers.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
ORIGINALS = ROOT.parent / "shared" / "originals"
"""The public originals laid out by URL path, beside the checkout (CI has it)."""
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _manifest(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, Path]:
    """A mirror folder laid out by URL path holding ``files``, and a manifest listing them with
    their pinned URL and sha256."""
    mirror = tmp_path / "mirror"
    lines = []
    for name, data in files.items():
        url = f"https://github.com/owner/repo/raw/{COMMIT}/{name}"
        place = mirror / url.split("://", 1)[1]
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_bytes(data)
        lines += [
            "[[asset]]",
            f"path = {json.dumps(name)}",
            f"url = {json.dumps(url)}",
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"',
            "",
        ]
    manifest = tmp_path / "assets.toml"
    manifest.write_text("\n".join(lines))
    return manifest, mirror


def _in_mirror(mirror: Path, name: str) -> Path:
    return mirror / f"github.com/owner/repo/raw/{COMMIT}/{name}"


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_fetch_from_mirror_then_noop(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa", "gdf/x/mask.png": b"mask"})
    dest = tmp_path / "data"
    got = assets.fetch_assets(mirror, dest=dest, manifest=manifest, log=lambda *_: None)
    assert sorted(p.relative_to(dest).as_posix() for p in got) == ["gdf/x/mask.png", "nst/a.jpg"]
    assert (dest / "nst/a.jpg").read_bytes() == b"aaa"
    assert _files(dest) == ["gdf/x/mask.png", "nst/a.jpg"]  # no staging folder left
    assert assets.fetch_assets(mirror, dest=dest, manifest=manifest, log=lambda *_: None) == []
    assert assets.verify_assets(dest, manifest) == []


def test_mirror_missing_file_names_it_and_writes_nothing(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa", "nst/b.jpg": b"bbb"})
    _in_mirror(mirror, "nst/b.jpg").unlink()
    with pytest.raises(UserError, match=r"nst/b\.jpg.*raw/0123.*not in the mirror.*--mirror"):
        assets.fetch_assets(mirror, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)
    assert _files(tmp_path / "data") == []  # all or nothing: a.jpg was fine, and not written


def test_wrong_checksum_in_mirror_is_refused_and_nothing_left(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa"})
    _in_mirror(mirror, "nst/a.jpg").write_bytes(b"tampered")
    with pytest.raises(UserError, match=r"nst/a\.jpg.*sha256 mismatch \(got [0-9a-f]{12}"):
        assets.fetch_assets(mirror, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)
    assert _files(tmp_path / "data") == []


def test_corrupt_local_copy_is_reported_not_overwritten(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa"})
    dest = tmp_path / "data"
    (dest / "nst").mkdir(parents=True)
    (dest / "nst/a.jpg").write_bytes(b"changed")
    with pytest.raises(UserError, match="sha256 mismatch.*delete it"):
        assets.fetch_assets(mirror, dest=dest, manifest=manifest, log=lambda *_: None)
    assert (dest / "nst/a.jpg").read_bytes() == b"changed"


def test_a_mirror_in_the_old_sample_layout_is_refused(tmp_path):
    manifest, _ = _manifest(tmp_path, {"nst/a.jpg": b"aaa"})
    old = tmp_path / "old"
    (old / "nst").mkdir(parents=True)
    (old / "nst/a.jpg").write_bytes(b"aaa")
    with pytest.raises(UserError, match="not laid out by URL path"):
        assets.fetch_assets(old, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)


def test_no_network_and_no_mirror_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSETS_MIRROR", raising=False)
    manifest, _ = _manifest(tmp_path, {"nst/a.jpg": b"aaa", "nst/b.jpg": b"bbb"})
    with pytest.raises(UserError, match=r"network unreachable.*and 1 more.*ASSETS_MIRROR"):
        assets.fetch_assets(None, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)


def test_manifest_lists_only_pinned_public_originals():
    entries = assets.load_manifest()
    pinned = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+/raw/[0-9a-f]{40}/\S+$")
    assert len(entries) == 43
    for a in entries:
        assert pinned.match(a.url), a.url
        assert re.fullmatch(r"[0-9a-f]{64}", a.sha256) and a.licence and a.description, a.path
    assert len({a.path for a in entries}) == len({a.url for a in entries}) == len(entries)


def test_cli_without_mirror_or_network_is_one_clear_line(tmp_path):
    # the real manifest's URLs, reached only through the unreachable proxy (conftest.no_network)
    env = {**os.environ, "HELPERS_DATA": str(tmp_path / "data")}
    env.pop("ASSETS_MIRROR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "helpers", "assets"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "ASSETS_MIRROR" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not any((tmp_path / "data").rglob("*.*"))  # nothing was downloaded


def test_downloads_use_the_proxy_so_the_real_urls_are_never_reached():
    """The guard above works: urllib sends a real asset URL to the unreachable proxy."""
    import urllib.error
    import urllib.request

    url = assets.load_manifest()[0].url
    scheme = url.split(":", 1)[0]
    assert urllib.request.getproxies()[scheme] == UNREACHABLE
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(url, timeout=5)


# -- the real download path: a local HTTP server on the public originals ------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    corrupt: str | None = None  # a URL path whose bytes are served with one byte flipped

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        if self.corrupt and self.path.lstrip("/") == self.corrupt:
            data = bytearray(Path(self.translate_path(self.path)).read_bytes())
            data[len(data) // 2] ^= 0xFF
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(bytes(data))
            return
        super().do_GET()


@contextmanager
def _serve(folder: Path, corrupt: str | None = None):
    handler = type("Handler", (_Handler,), {"corrupt": corrupt})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


needs_originals = pytest.mark.skipif(
    not ORIGINALS.is_dir(), reason=f"{ORIGINALS} (the public originals) is not beside the checkout"
)


@needs_originals
def test_http_mirror_fetches_verifies_and_derives_every_sample(tmp_path, monkeypatch):
    """The whole path a new user's `make data` takes, over HTTP: every original fetched and
    verified into an empty data folder, then every sample derived from it."""
    from helpers import images
    from helpers.gdf import list_examples, load_example

    data = tmp_path / "data"
    monkeypatch.setenv("HELPERS_DATA", str(data))
    with _serve(ORIGINALS) as base:
        fetched = assets.fetch_assets(base, log=lambda *_: None)
    manifest = assets.load_manifest()
    assert len(fetched) == len(manifest) and assets.verify_assets() == []
    assert sorted(_files(data)) == sorted(a.path for a in manifest)
    for name in list_examples():
        ex = load_example(name)
        h, w = ex.target.shape[:2]
        assert ex.source.shape == (h, w, 3) and ex.mask.shape == (h, w), name
        assert 0 < ex.mask.sum() < h * w, name
    for a in manifest:
        if a.path.startswith("nst/"):
            assert images.load(a.path, size=64).shape[:2] in {(64, w) for w in range(1, 65)} | {
                (h, 64) for h in range(1, 65)
            }, a.path


@needs_originals
def test_http_mirror_serving_a_corrupt_file_is_one_line_and_writes_nothing(tmp_path):
    victim = next(a for a in assets.load_manifest() if a.path == "gdf/toy_problem.png")
    env = {**os.environ, "HELPERS_DATA": str(tmp_path / "data")}
    env.pop("ASSETS_MIRROR", None)
    with _serve(ORIGINALS, corrupt=victim.url_path) as base:
        proc = subprocess.run(
            [sys.executable, "-m", "helpers", "assets", "--mirror", base],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=300,
        )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith(f"error: cannot fetch {victim.path} from {base}/")
    assert victim.url in lines[0] and "sha256 mismatch" in lines[0]
    assert not (tmp_path / "data").exists() or _files(tmp_path / "data") == []


@needs_originals
def test_a_folder_mirror_and_an_http_mirror_give_the_same_bytes(tmp_path):
    small = [a for a in assets.load_manifest() if (a.bytes or 0) < 5000]
    manifest = tmp_path / "assets.toml"
    manifest.write_text(
        "\n".join(
            f'[[asset]]\npath = "{a.path}"\nurl = "{a.url}"\nsha256 = "{a.sha256}"\n' for a in small
        )
    )
    by_folder, by_http = tmp_path / "folder", tmp_path / "http"
    assets.fetch_assets(ORIGINALS, dest=by_folder, manifest=manifest, log=lambda *_: None)
    with _serve(ORIGINALS) as base:
        assets.fetch_assets(base, dest=by_http, manifest=manifest, log=lambda *_: None)
    assert len(small) >= 5 and _files(by_folder) == _files(by_http)
    for name in _files(by_folder):
        assert (by_folder / name).read_bytes() == (by_http / name).read_bytes()
    shutil.rmtree(by_http)
