"""``python -m helpers report`` fetches missing inputs itself, before any notebook starts."""

from __future__ import annotations

import urllib.error

from helpers import assets
from helpers.cli import main
from helpers.runtime import ROOT


def _offline(url, dest, timeout=30.0):
    raise urllib.error.URLError("offline in this test")


def test_report_without_the_images_names_them_and_starts_no_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HELPERS_DATA", str(tmp_path / "data"))  # nothing fetched yet
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("ASSETS_MIRROR", str(tmp_path / "mirror"))
    (tmp_path / "mirror" / "github.com").mkdir(parents=True)  # a mirror without the images
    monkeypatch.setattr(assets, "_download", _offline)
    started = []
    monkeypatch.setattr("helpers.report.run_series", lambda *a, **k: started.append(a) or [])

    code = main(["report", "--profile", "smoke", "--only", "05"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and started == []
    assert len(err) == 1 and err[0].startswith("error: notebooks not started: cannot fetch ")
    assert "ASSETS_MIRROR" in err[0] and "--mirror" in err[0]  # how to provide them
    assert not (tmp_path / "outputs" / "notebooks").exists()


def test_report_fetches_missing_images_from_the_mirror_first(tmp_path, monkeypatch, capsys):
    """A mirror holding the originals (here: links to the checkout's data/, laid out by URL
    path) fills an empty data folder."""
    if assets.verify_assets(ROOT / "data"):
        import pytest

        pytest.skip("the sample images are not fetched into data/")
    mirror = tmp_path / "mirror"
    for asset in assets.load_manifest():
        (mirror / asset.url_path).parent.mkdir(parents=True, exist_ok=True)
        (mirror / asset.url_path).symlink_to(ROOT / "data" / asset.path)
    monkeypatch.setenv("HELPERS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("ASSETS_MIRROR", str(mirror))
    monkeypatch.setattr(assets, "_download", _offline)
    ran = []
    monkeypatch.setattr("helpers.report.run_series", lambda *a, **k: ran.append(a) or [])
    monkeypatch.setattr("helpers.report.load_results", lambda *a, **k: [])
    monkeypatch.setattr("helpers.report.render_report", lambda *a, **k: tmp_path / "index.html")
    monkeypatch.setattr("helpers.cli.report._estimate", lambda *a, **k: {})

    main(["report", "--profile", "smoke", "--only", "05"])

    assert assets.verify_assets(tmp_path / "data") == [] and len(ran) == 1
    assert "fetched gdf/" in capsys.readouterr().out
