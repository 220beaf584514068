"""helpers.report's regression check: PSNR and thumbnails, metric tolerances, recording and
checking references, the stored smoke reference, and the determinism it relies on.

The pipeline itself (profiles, the runner, the HTML pages) is tested in tests/test_report.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import report
from helpers.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    monkeypatch.setenv("HELPERS_OUTPUTS", str(out))
    return out


# ----------------------------------------------------------------------------- regression check


def test_psnr_and_thumbnail_against_hand_computations():
    a = np.full((8, 8, 3), 0.5)
    assert report.psnr(a, a) == float("inf")
    assert report.psnr(a, a + 0.1) == pytest.approx(20.0)  # mse 0.01 -> 10 log10(100)
    rng = np.random.default_rng(0)
    img = rng.random((32, 48, 3)).astype(np.float32)
    expected = img.reshape(16, 2, 16, 3, 3).mean(axis=(1, 3))  # 2x3 blocks averaged
    np.testing.assert_allclose(report.thumbnail(img, 16), expected, atol=1e-5)


def _metrics(**numbers):
    return {
        "profile": "smoke", "seed": 0, "device": "cpu", "seconds": 1.0, "images": [],
        "metrics": numbers,
    }


def test_compare_metrics_tolerances():
    ref = _metrics(
        loss=100.0, residual=1e-9, steps=5, layers=["conv4_2"], solve_seconds=1.0, stats={"a": 2.0}
    )
    close = _metrics(
        loss=100.5, residual=3e-10, steps=5, layers=["conv4_2"], solve_seconds=9.0, stats={"a": 2.0}
    )
    same = report.compare_metrics("nb", close, ref)
    assert all(r.ok for r in same)
    items = {"loss", "residual", "steps", "layers[0]", "solve_seconds", "stats.a"}
    assert {r.item for r in same} == items
    assert next(r for r in same if r.item == "solve_seconds").tolerance == "not compared"

    far = _metrics(
        loss=101.5, residual=1e-3, steps=6, layers=["conv4_1"], stats={"a": float("nan")}, extra=1.0
    )
    drifted = report.compare_metrics("nb", far, ref)
    bad = {r.item: r for r in drifted if not r.ok}
    assert set(bad) == {"loss", "residual", "steps", "layers[0]", "stats.a"}
    assert bad["loss"].note == "+1.50%"
    assert bad["loss"].reference == "100" and bad["loss"].value == "101.5"
    assert next(r for r in drifted if r.item == "extra").ok  # new metrics are shown, not failed

    missing = report.compare_metrics("nb", {**_metrics(), "profile": "quick"}, ref)
    failing = {"profile", "loss", "residual", "steps", "layers[0]", "stats.a"}
    assert {r.item for r in missing if not r.ok} == failing

    loose = {**ref, "tolerances": {"loss": {"rtol": 0.05}, "steps": None}}
    within = _metrics(loss=103.0, residual=1e-9, steps=7, layers=["conv4_2"], stats={"a": 2.0})
    assert all(r.ok for r in report.compare_metrics("nb", within, loose))


def _write_run(out: Path, stem: str, image: np.ndarray, **metrics) -> None:
    folder = out / stem
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / "result.png")
    record = {**_metrics(**metrics), "notebook": stem, "images": ["result"]}
    (folder / "metrics.json").write_text(json.dumps(record))


def test_record_then_check_images_and_metrics(tmp_path, outputs):
    rng = np.random.default_rng(1)
    image = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    _write_run(outputs, "04-x", image, loss=10.0)
    ref_dir = tmp_path / "ref"
    report.record_reference(ref_dir, ["04-x"], profile="smoke")
    stored = json.loads((ref_dir / "04-x.json").read_text())
    summary = stored["images"]["result"]
    assert summary["shape"] == [24, 40, 3] and len(summary["thumbnail"]) == 16 * 16 * 3
    rows = report.check_reference(ref_dir)
    assert all(r.ok for r in rows) and any(r.note == "identical pixels" for r in rows)

    nudged = image.copy()
    nudged[::4, ::4] ^= 1  # a few pixels off by one grey level
    _write_run(outputs, "04-x", nudged, loss=10.0)
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert row.ok and row.note == "pixels differ, within tolerance"

    _write_run(outputs, "04-x", 255 - image, loss=10.5)
    rows = report.check_reference(ref_dir)
    assert {r.item for r in rows if not r.ok} == {"image result", "loss"}
    table = report.drift_table(rows)
    assert "image result" in table and "DRIFT image drifted" in table and "DRIFT +5.00%" in table
    assert "2 drifted" in table

    _write_run(outputs, "04-x", image[:20], loss=10.0)
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert row.note == "shape changed"

    (outputs / "04-x" / "metrics.json").unlink()
    rows = report.check_reference(ref_dir, ["04-x", "05-y"])
    assert [(r.notebook, r.item, r.ok) for r in rows] == [
        ("04-x", "metrics.json", False), ("05-y", "reference", False)
    ]

    with pytest.raises(UserError, match="from the smoke profile, not quick"):
        _write_run(outputs, "04-x", image, loss=10.0)
        report.record_reference(ref_dir, ["04-x"], profile="quick")


def test_recorded_reference_keeps_keys_and_values_exactly(tmp_path, outputs):
    """Keys that look like arrays ("U[0,1]") and nested numbers survive the compact JSON layout."""
    image = np.zeros((8, 8, 3), np.uint8)
    metrics = {
        "noise U[0,1]": 1.5, "curve": [0.1, 1e-12, -3.0], "nested": {"[0, 1]": [1, 2]},
        "name": "conv4_2",
    }
    _write_run(outputs, "05-y", image, **metrics)
    report.record_reference(tmp_path, ["05-y"])
    assert json.loads((tmp_path / "05-y.json").read_text())["metrics"] == metrics
    assert all(r.ok and not r.note.startswith("new") for r in report.check_reference(tmp_path))


def test_stored_smoke_reference_is_small_json_for_existing_notebooks():
    ref = ROOT / "tests" / "reference" / "smoke"
    stems = {p.stem for p in report.discover(ROOT / "notebooks")}
    files = sorted(ref.glob("*"))
    assert files and all(p.suffix == ".json" and p.stat().st_size < 100_000 for p in files)
    for path in files:
        record = json.loads(path.read_text())
        assert path.stem in stems
        assert record["profile"] == "smoke" and record["notebook"] == path.stem


# ----------------------------------------------------------------------------- determinism


@pytest.mark.weights
def test_style_transfer_result_images_are_bitwise_identical_on_cpu(tmp_path):
    """Two runs with the same seed give the same PNG bytes (the smoke reference relies on it);
    another seed gives another image, so the comparison can fail."""
    from helpers import nst
    from helpers.images import load, save_image

    names = ("content/tubingen.jpg", "style/starry_night.jpg")
    content, style = (load(f"nst/{name}", size=32) for name in names)
    kwargs = {"size": 32, "steps": 2, "init": "noise", "device": "cpu", "progress": False}
    paths = []
    for run, seed in enumerate((0, 0, 1)):
        result = nst.stylize(content, style, seed=seed, **kwargs)
        paths.append(save_image(tmp_path / f"run{run}.png", result.image))
    first, again, other = (p.read_bytes() for p in paths)
    assert first == again
    assert first != other
