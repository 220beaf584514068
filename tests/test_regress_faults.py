"""Fault injection: the regression check must fail on a deliberately broken smoke run.

A real smoke run of notebooks 05 (toy problem) and 06 (Poisson blending) is executed once with
papermill into a temporary ``outputs/``; notebook 04's metrics (style transfer, which needs the
VGG weights and a minute of CPU) are taken from the stored smoke reference.  A reference is
recorded from that baseline, the unbroken baseline must pass, and then each copy of it broken in
one way must fail with exactly the broken metric, image or figure named:

* a blend residual 10x larger;
* the toy problem's error 1000x larger;
* a style-transfer loss 1.5x larger;
* one blend image replaced by the naive paste;
* one figure missing.

Run with ``-s`` to see what the checker prints for each fault.  The baseline is built here, not
taken from the stored reference values, so notebooks may change their results without breaking
this test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from helpers import report

ROOT = Path(__file__).resolve().parent.parent
RUN = ("05-gradient-toy-problem", "06-poisson-blending")
STYLE = "04-style-transfer"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _smoke_parameters(stem: str) -> dict:
    return yaml.safe_load((report.configs_dir() / "smoke" / f"{stem}.yaml").read_text()) or {}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """``outputs/`` of a fresh smoke run of 05 and 06, plus 04's metrics from the reference."""
    import papermill

    out = tmp_path_factory.mktemp("baseline") / "outputs"
    mp = pytest.MonkeyPatch()
    mp.setenv("HELPERS_OUTPUTS", str(out))  # the kernel inherits it
    try:
        for stem in RUN:
            papermill.execute_notebook(
                str(report.notebooks_dir() / f"{stem}.ipynb"),
                str(out.parent / f"{stem}.ipynb"),
                parameters=_smoke_parameters(stem),
                cwd=str(report.notebooks_dir()),
                progress_bar=False,
                log_output=False,
            )
    finally:
        mp.undo()
    stored = json.loads((ROOT / "tests" / "reference" / "smoke" / f"{STYLE}.json").read_text())
    (out / STYLE).mkdir(parents=True)
    record = {k: stored.get(k) for k in ("notebook", "profile", "seed", "metrics")}
    record.update(device=stored["recorded_on"]["device"], images=[], figures=[])
    (out / STYLE / "metrics.json").write_text(json.dumps(record))
    return out


@pytest.fixture(scope="module")
def reference(baseline, tmp_path_factory) -> Path:
    ref = tmp_path_factory.mktemp("reference")
    mp = pytest.MonkeyPatch()
    mp.setenv("HELPERS_OUTPUTS", str(baseline))
    try:
        report.record_reference(ref, [*RUN, STYLE], profile="smoke")
    finally:
        mp.undo()
    return ref


@pytest.fixture
def broken(baseline, tmp_path, monkeypatch) -> Path:
    """A private copy of the baseline outputs, which a test may break."""
    out = tmp_path / "outputs"
    shutil.copytree(baseline, out)
    monkeypatch.setenv("HELPERS_OUTPUTS", str(out))
    return out


def _scaled(value, key: str, factor: float, prefix: str = ""):
    """``value`` (nested metrics) with the leaf whose flattened name is ``key`` multiplied."""
    if isinstance(value, dict):
        return {
            k: _scaled(v, key, factor, f"{prefix}.{k}" if prefix else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scaled(v, key, factor, f"{prefix}[{i}]") for i, v in enumerate(value)]
    return value * factor if prefix == key else value


def _break_metric(out: Path, stem: str, kind: str, factor: float, name: str = "") -> str:
    """Multiply the first metric of ``kind`` (whose key contains ``name``) of
    ``outputs/<stem>/metrics.json`` by ``factor``; returns its key."""
    path = out / stem / "metrics.json"
    record = json.loads(path.read_text())
    flat = report.flatten(record["metrics"])
    key = next(k for k, v in flat.items() if report.metric_kind(k, v) == kind and name in k)
    record["metrics"] = _scaled(record["metrics"], key, factor)
    assert report.flatten(record["metrics"])[key] == flat[key] * factor
    path.write_text(json.dumps(record))
    return key


def _flagged(reference: Path, label: str) -> set[tuple[str, str]]:
    rows = report.check_reference(reference)
    print(f"\n--- {label}\n{report.drift_table(rows)}")
    return {(r.notebook, r.item) for r in rows if not r.ok}


def test_unbroken_baseline_passes(broken, reference):
    """No false alarm: the run the reference was recorded from passes, images identical."""
    rows = report.check_reference(reference)
    assert all(r.ok for r in rows), report.drift_table(rows)
    images = [r for r in rows if r.item.startswith("image ")]
    assert images and all(r.note == "identical pixels" for r in images)
    recorded = json.loads((reference / "06-poisson-blending.json").read_text())["images"]
    boxes = [tuple(summary["region"]) for summary in recorded.values()]
    shapes = [tuple(summary["shape"][:2]) for summary in recorded.values()]
    # blends are compared inside their mask's box, not over the whole image
    assert boxes and all(box != (0, 0, *shape) for box, shape in zip(boxes, shapes, strict=True))


def test_residual_10x_larger_is_flagged(broken, reference):
    key = _break_metric(broken, "06-poisson-blending", "residual", 10.0, "poisson")
    assert _flagged(reference, f"residual {key} x10") == {("06-poisson-blending", key)}


def test_toy_error_1000x_larger_is_flagged(broken, reference):
    key = _break_metric(broken, "05-gradient-toy-problem", "error", 1000.0, "max_abs_error")
    assert _flagged(reference, f"toy error {key} x1000") == {("05-gradient-toy-problem", key)}


def test_style_transfer_loss_1_5x_larger_is_flagged(broken, reference):
    key = _break_metric(broken, STYLE, "loss", 1.5)
    assert _flagged(reference, f"style-transfer loss {key} x1.5") == {(STYLE, key)}


def test_blend_replaced_by_the_naive_paste_is_flagged(broken, reference):
    from helpers import gdf
    from helpers.images import save_image

    params = _smoke_parameters("06-poisson-blending")
    example = params["EXAMPLES"][0]
    ex = gdf.load_example(example, size=params.get("FULL_SIZE") or None)
    name = f"{example}-poisson"
    path = broken / "06-poisson-blending" / f"{name}.png"
    assert np.asarray(Image.open(path)).shape[:2] == ex.target.shape[:2]
    save_image(path, gdf.naive_paste(ex.source, ex.target, ex.mask))
    assert _flagged(reference, "blend -> naive paste") == {("06-poisson-blending", f"image {name}")}


def test_missing_figure_is_flagged(broken, reference):
    record = json.loads((broken / "06-poisson-blending" / "metrics.json").read_text())
    figure = record["figures"][-1]
    (broken / "06-poisson-blending" / f"{figure}.png").unlink()
    assert _flagged(reference, "figure missing") == {("06-poisson-blending", f"figure {figure}")}
