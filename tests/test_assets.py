"""helpers.assets: fetch from a mirror, verify sha256, fail clearly, re-run as a no-op."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import UNREACHABLE  # every test's downloads go there (conftest.no_network)

from helpers import assets
from helpers.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def _manifest(tmp_path: Path, files: dict[str, bytes], url: str = "") -> tuple[Path, Path]:
    """A mirror folder holding ``files`` and a manifest listing them with their sha256."""
    mirror = tmp_path / "mirror"
    lines = []
    for name, data in files.items():
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(data)
        lines += [
            "[[asset]]",
            f"path = {json.dumps(name)}",
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"',
            f"url = {json.dumps(url)}",
            "",
        ]
    manifest = tmp_path / "assets.toml"
    manifest.write_text("\n".join(lines))
    return manifest, mirror


def test_fetch_from_mirror_then_noop(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa", "gdf/x/mask.png": b"mask"})
    dest = tmp_path / "data"
    got = assets.fetch_assets(mirror, dest=dest, manifest=manifest, log=lambda *_: None)
    assert sorted(p.relative_to(dest).as_posix() for p in got) == ["gdf/x/mask.png", "nst/a.jpg"]
    assert (dest / "nst/a.jpg").read_bytes() == b"aaa"
    assert assets.fetch_assets(mirror, dest=dest, manifest=manifest, log=lambda *_: None) == []
    assert assets.verify_assets(dest, manifest) == []


def test_mirror_missing_file_names_it(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa", "nst/b.jpg": b"bbb"})
    (mirror / "nst/b.jpg").unlink()
    with pytest.raises(UserError, match=r"nst/b\.jpg.*--mirror"):
        assets.fetch_assets(mirror, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)
    assert not (tmp_path / "data/nst/b.jpg").exists()


def test_wrong_checksum_in_mirror_is_refused_and_nothing_left(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa"})
    (mirror / "nst/a.jpg").write_bytes(b"tampered")
    with pytest.raises(UserError, match=r"nst/a\.jpg.*sha256 mismatch"):
        assets.fetch_assets(mirror, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)
    assert list((tmp_path / "data").rglob("*")) == [tmp_path / "data/nst"]  # no partial file


def test_corrupt_local_copy_is_reported_not_overwritten(tmp_path):
    manifest, mirror = _manifest(tmp_path, {"nst/a.jpg": b"aaa"})
    dest = tmp_path / "data"
    (dest / "nst").mkdir(parents=True)
    (dest / "nst/a.jpg").write_bytes(b"changed")
    with pytest.raises(UserError, match="sha256 mismatch.*delete it"):
        assets.fetch_assets(mirror, dest=dest, manifest=manifest, log=lambda *_: None)
    assert (dest / "nst/a.jpg").read_bytes() == b"changed"


def test_no_network_and_no_mirror_fails_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSETS_MIRROR", raising=False)
    manifest, _ = _manifest(
        tmp_path, {"nst/a.jpg": b"aaa", "nst/b.jpg": b"bbb"}, url=f"{UNREACHABLE}/nothing"
    )
    with pytest.raises(UserError, match=r"network unreachable.*and 1 more.*--mirror"):
        assets.fetch_assets(None, dest=tmp_path / "data", manifest=manifest, log=lambda *_: None)


def test_manifest_covers_the_shared_layout():
    entries = assets.load_manifest()
    names = {a.path for a in entries}
    assert "gdf/toy_problem.png" in names and "nst/content/tubingen.jpg" in names
    for example in (
        "bear_pool",
        "bird_sky",
        "graffiti_wall",
        "jet_valley",
        "kitten_library",
        "moon_gothenburg",
        "penguin_chick_snow",
        "penguin_snow",
    ):
        stems = {Path(n).stem for n in names if n.startswith(f"gdf/{example}/")}
        assert {"source", "target", "mask"} <= stems, example
    assert all(len(a.sha256) == 64 and a.licence for a in entries)


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

    url = next(a.url for a in assets.load_manifest() if a.url)
    scheme = url.split(":", 1)[0]
    assert urllib.request.getproxies()[scheme] == UNREACHABLE
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(url, timeout=5)
