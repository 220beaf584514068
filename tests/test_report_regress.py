"""helpers.report's regression check: metric kinds and tolerances, image regions at full
resolution, figures, recording and checking references, the stored smoke reference, and the
determinism it relies on.  tests/test_regress_faults.py breaks a real smoke run on purpose.

The pipeline itself (profiles, the runner, the HTML pages) is tested in tests/test_report.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
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


def test_psnr_and_mean_abs_levels_against_hand_computations():
    a = np.full((8, 8, 3), 0.5)
    assert report.psnr(a, a) == float("inf")
    assert report.psnr(a, a + 0.1) == pytest.approx(20.0)  # mse 0.01 -> 10 log10(100)
    assert report.psnr(a * 255, a * 255 + 25.5, 255.0) == pytest.approx(20.0)
    b = np.zeros((4, 4))
    c = b.copy()
    c[0, :2] = 8  # two pixels 8 levels off out of 16 -> 1 level on average
    assert report.mean_abs_levels(b, c) == pytest.approx(1.0)


def _metrics(**numbers):
    return {
        "profile": "smoke",
        "seed": 0,
        "device": "cpu",
        "seconds": 1.0,
        "images": [],
        "metrics": numbers,
    }


def test_metric_kinds_and_their_tolerances():
    kinds = {
        "full.bird_sky.residual_mixed": ("residual", 1e-7),
        "max_abs_error": ("error", 1e-11),
        "paper_final_total.the_scream": ("loss", 5e8),
        "unknowns": ("count", 701),
        "seconds_naive": ("timing", 0.07),
        "speedup": ("timing", 8.0),
        "activation_mean.conv1_1": ("number", 2.4),
        "layer": ("label", "conv4_2"),
        "flag": ("label", True),
        "style_final.[.2, .2, .2, .2, .2] | shipwreck": ("loss", 2e9),
    }
    for key, (kind, value) in kinds.items():
        assert report.metric_kind(key, value) == kind, key
    assert all(t.reason and t.atol == 0 for t in report.TOLERANCES.values())
    assert report.TOLERANCES["timing"].compare == "never"
    assert report.TOLERANCES["count"].compare == "equal"
    from helpers.report.tolerances import tolerance_for

    assert tolerance_for("max_abs_error", 1e-11).ceiling == 1e-6
    assert tolerance_for("naive_max_abs_error", 1e-8).ceiling == 1e-4
    assert tolerance_for("full.x.residual_poisson", 1e-7).ceiling == 1e-6


def test_compare_metrics_tolerances():
    ref = _metrics(
        loss=100.0, residual=1e-9, steps=5, layers=["conv4_2"], solve_seconds=1.0, stats={"a": 2.0}
    )
    close = _metrics(  # residual 1.9x: within 2x; a timing 9x: never compared
        loss=100.5,
        residual=1.9e-9,
        steps=5,
        layers=["conv4_2"],
        solve_seconds=9.0,
        stats={"a": 2.0},
    )
    same = report.compare_metrics("nb", close, ref)
    assert all(r.ok for r in same)
    items = {"loss", "residual", "steps", "layers[0]", "solve_seconds", "stats.a"}
    assert {r.item for r in same} == items
    assert next(r for r in same if r.item == "solve_seconds").tolerance == "not compared"

    far = _metrics(
        loss=101.5,
        residual=2.1e-9,
        steps=6,
        layers=["conv4_1"],
        stats={"a": float("nan")},
        extra=1.0,
    )
    drifted = report.compare_metrics("nb", far, ref)
    bad = {r.item: r for r in drifted if not r.ok}
    assert set(bad) == {"loss", "residual", "steps", "layers[0]", "stats.a"}
    assert bad["loss"].note == "+1.50%"
    assert bad["loss"].reference == "100" and bad["loss"].value == "101.5"
    assert bad["residual"].note == "x2.1 of the reference"
    assert next(r for r in drifted if r.item == "extra").ok  # new metrics are shown, not failed

    # tiny values are not hidden under an absolute tolerance: 1e-12 -> 1e-7 fails
    tiny = report.compare_metrics("nb", _metrics(residual=1e-7), _metrics(residual=1e-12))
    assert [r.ok for r in tiny] == [False]
    # below 2x the reference but above the notebook's own bound: fails
    bound = report.compare_metrics("nb", _metrics(residual=1.5e-6), _metrics(residual=1e-6))
    assert not bound[0].ok and "above the bound" in bound[0].note
    # a better (smaller) residual passes
    assert report.compare_metrics("nb", _metrics(residual=1e-13), _metrics(residual=1e-12))[0].ok

    missing = report.compare_metrics("nb", {**_metrics(), "profile": "quick"}, ref)
    failing = {"profile", "loss", "residual", "steps", "layers[0]", "stats.a"}
    assert {r.item for r in missing if not r.ok} == failing

    loose = {**ref, "tolerances": {"loss": {"rtol": 0.05}, "steps": None}}
    within = _metrics(loss=103.0, residual=1e-9, steps=7, layers=["conv4_2"], stats={"a": 2.0})
    assert all(r.ok for r in report.compare_metrics("nb", within, loose))


def test_device_type_must_match_the_reference():
    ref = {**_metrics(loss=1.0), "recorded_on": {"device": "cpu (2 threads)"}}
    gpu = {**_metrics(loss=1.0), "device": "NVIDIA H200"}
    rows = report.compare_metrics("nb", gpu, ref)
    assert [(r.item, r.ok) for r in rows if not r.ok] == [("device", False)]
    cpu = {**_metrics(loss=1.0), "device": "cpu (16 threads)"}
    assert all(r.ok for r in report.compare_metrics("nb", cpu, ref))


def _write_run(out: Path, stem: str, image: np.ndarray, region=None, figures=(), **metrics):
    folder = out / stem
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / "result.png")
    for name in figures:
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / f"{name}.png")
    record = {
        **_metrics(**metrics),
        "notebook": stem,
        "images": ["result"],
        "figures": list(figures),
        "regions": {"result": region} if region else {},
    }
    (folder / "metrics.json").write_text(json.dumps(record))


def test_record_then_check_images_and_metrics(tmp_path, outputs):
    rng = np.random.default_rng(1)
    image = (rng.random((24, 40, 3)) * 255).astype(np.uint8)
    _write_run(outputs, "04-x", image, figures=["strip"], loss=10.0)
    ref_dir = tmp_path / "ref"
    report.record_reference(ref_dir, ["04-x"], profile="smoke")
    stored = json.loads((ref_dir / "04-x.json").read_text())
    summary = stored["images"]["result"]
    assert summary["shape"] == [24, 40, 3] and summary["region"] == [0, 0, 24, 40]
    crop = np.asarray(Image.open(ref_dir / summary["crop"]))
    assert np.array_equal(crop, image)  # the whole image at full resolution, lossless
    assert stored["figures"] == ["strip"]
    rows = report.check_reference(ref_dir)
    assert all(r.ok for r in rows) and any(r.note == "identical pixels" for r in rows)

    nudged = image.copy()
    nudged[::4, ::4] ^= 1  # a few pixels off by one grey level
    _write_run(outputs, "04-x", nudged, figures=["strip"], loss=10.0)
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert row.ok and row.note == "pixels differ, within tolerance"

    patch = image.copy()
    patch[4:8, 4:8] = 255 - patch[4:8, 4:8]  # 16 of 960 pixels changed: a local change
    _write_run(outputs, "04-x", patch, figures=["strip"], loss=10.0)
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert not row.ok and row.note == "image drifted inside its region"

    _write_run(outputs, "04-x", 255 - image, loss=10.5)  # and the figure is gone
    rows = report.check_reference(ref_dir)
    assert {r.item for r in rows if not r.ok} == {"image result", "loss", "figure strip"}
    table = report.drift_table(rows)
    assert "image result" in table and "DRIFT image drifted" in table and "DRIFT +5.00%" in table
    assert "DRIFT strip.png not written" in table and "3 drifted" in table

    _write_run(outputs, "04-x", image[:20], figures=["strip"], loss=10.0)
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert row.note == "shape changed"

    (outputs / "04-x" / "metrics.json").unlink()
    rows = report.check_reference(ref_dir, ["04-x", "05-y"])
    assert [(r.notebook, r.item, r.ok) for r in rows] == [
        ("04-x", "metrics.json", False),
        ("05-y", "reference", False),
    ]

    with pytest.raises(UserError, match="from the smoke profile, not quick"):
        _write_run(outputs, "04-x", image, loss=10.0)
        report.record_reference(ref_dir, ["04-x"], profile="quick")


def test_declared_region_is_compared_at_full_resolution(tmp_path, outputs):
    """A change confined to a small region (a blend's mask box) is found there, although it is
    invisible in the whole image's average; the crop stored is the region only."""
    rng = np.random.default_rng(2)
    image = (rng.random((96, 80, 3)) * 255).astype(np.uint8)
    box = [40, 30, 52, 44]
    _write_run(outputs, "06-x", image, region=box, loss=1.0)
    ref_dir = tmp_path / "ref"
    report.record_reference(ref_dir, ["06-x"])
    summary = json.loads((ref_dir / "06-x.json").read_text())["images"]["result"]
    crop = np.asarray(Image.open(ref_dir / summary["crop"]))
    assert summary["region"] == box and np.array_equal(crop, image[40:52, 30:44])

    changed = image.copy()
    changed[40:52, 30:44] = np.clip(changed[40:52, 30:44].astype(int) + 6, 0, 255)
    whole = report.mean_abs_levels(image, changed)
    assert whole < report.TOLERANCES["image"].mad  # the whole-image average would pass it
    _write_run(outputs, "06-x", changed, region=box, loss=1.0)
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert not row.ok and row.value.startswith("MAD 5.")

    _write_run(outputs, "06-x", image, region=[41, 30, 53, 44], loss=1.0)  # the mask moved
    row = next(r for r in report.check_reference(ref_dir) if r.item == "image result")
    assert not row.ok and "region" in row.note

    _write_run(outputs, "06-x", image, loss=1.0)
    report.record_reference(ref_dir, ["06-x"])  # re-recorded: the crop is the whole image now
    assert np.array_equal(np.asarray(Image.open(ref_dir / summary["crop"])), image)
    assert sorted(p.name for p in (ref_dir / "06-x").iterdir()) == ["result.png"]


def test_notebook_run_records_the_regions_the_check_reads(outputs):
    from helpers.notebook import NotebookRun

    run = NotebookRun("06-z", device="cpu", profile="smoke")
    image = np.zeros((10, 12, 3))
    run.save_image("blend", image, region=(np.int64(2), 3, 7, 9))
    run.save_image("plain", image)
    run.save_metrics(residual=1e-7)
    record = json.loads((outputs / "06-z" / "metrics.json").read_text())
    assert record["regions"] == {"blend": [2, 3, 7, 9]} and record["images"] == ["blend", "plain"]


def test_recorded_reference_keeps_keys_and_values_exactly(tmp_path, outputs):
    """Keys that look like arrays ("U[0,1]") and nested numbers survive the compact JSON layout."""
    image = np.zeros((8, 8, 3), np.uint8)
    metrics = {
        "noise U[0,1]": 1.5,
        "curve": [0.1, 1e-12, -3.0],
        "nested": {"[0, 1]": [1, 2]},
        "name": "conv4_2",
    }
    _write_run(outputs, "05-y", image, **metrics)
    report.record_reference(tmp_path, ["05-y"])
    assert json.loads((tmp_path / "05-y.json").read_text())["metrics"] == metrics
    assert all(r.ok and not r.note.startswith("new") for r in report.check_reference(tmp_path))


def test_stored_smoke_reference_is_small_for_existing_notebooks():
    ref = ROOT / "tests" / "reference" / "smoke"
    stems = {p.stem for p in report.discover(ROOT / "notebooks")}
    files = sorted(ref.glob("*.json"))
    assert files and all(p.stat().st_size < 100_000 for p in files)
    for path in files:
        record = json.loads(path.read_text())
        assert path.stem in stems
        assert record["profile"] == "smoke" and record["notebook"] == path.stem
        for summary in record.get("images", {}).values():
            crop = ref / summary["crop"] if "crop" in summary else None
            assert crop is None or (crop.is_file() and crop.stat().st_size < 100_000)


def test_every_smoke_config_runs_on_the_cpu():
    """The smoke reference is recorded on the CPU: a GPU host must not run the smoke profile
    on CUDA and compare its losses with CPU numbers."""
    configs = sorted((ROOT / "configs" / "smoke").glob("*.yaml"))
    assert configs
    for path in configs:
        assert yaml.safe_load(path.read_text()).get("DEVICE") == "cpu", path.name


def test_nbval_compares_nothing_as_the_readme_says():
    """README and Makefile say nbval only executes the notebooks: no committed cell asks nbval
    to compare its output (mark one, and those texts must change)."""
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        assert not any("NBVAL_CHECK_OUTPUT" in c.source for c in nb.cells), path.name
    assert "nbval compares none" in (ROOT / "README.md").read_text()


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


def test_a_figure_and_a_result_image_cannot_share_a_name(outputs):
    """Both are ``<name>.png``: the second would overwrite the first (the index thumbnail of a
    key figure would become the raw image)."""
    import matplotlib.pyplot as plt

    from helpers.notebook import NotebookRun

    run = NotebookRun("06-w", device="cpu", profile="smoke")
    run.save_image("result", np.zeros((4, 4, 3)))
    fig = plt.figure()
    with pytest.raises(ValueError, match="already a result image's name"):
        run.save_figure(fig, "result", caption="A figure.")
    run.save_figure(fig, "panel", caption="A figure.")
    plt.close(fig)
    with pytest.raises(ValueError, match="already a figure's name"):
        run.save_image("panel", np.zeros((4, 4, 3)))
    assert run.images == ["result"] and run.figures == ["panel"]
