"""helpers.report: profiles, the papermill runner, the HTML report (the regression check is
in tests/test_report_regress.py).

The pipeline tests run a tiny fake series (a notebook that fails on purpose, a 2-second one that
saves a seeded result image) in a temporary folder, so they take seconds; the real notebooks
run once per `make test`, under nbval.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import interruptible

from helpers import report
from helpers.cli import main
from helpers.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
v4 = nbformat.v4


# ----------------------------------------------------------------------------- a fake series


def _notebook(*cells) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = list(cells)
    return nb


def _parameters(source: str):
    cell = v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def make_fake_series(root: Path) -> tuple[Path, Path]:
    """notebooks/{01-broken,02-tiny,03-slow}.ipynb and configs/{smoke,quick}/*.yaml under ``root``.

    02-tiny writes its kernel's pid, sleeps SLEEP seconds (smoke: 30, so a test can kill it
    mid-run; quick: 0), then saves a seeded result image and a figure.
    """
    nbs, configs = root / "notebooks", root / "configs"
    nbs.mkdir(parents=True)
    broken = _notebook(
        v4.new_markdown_cell("# Broken on purpose\nFails in its third cell."),
        _parameters('PROFILE = "quick"  # str: profile\nSEED = 0  # int: seed'),
        v4.new_code_cell("x = 1"),
        v4.new_code_cell("y = x + 1\nraise ValueError('deliberate failure')"),
        v4.new_code_cell("z = 3"),
    )
    tiny = _notebook(
        v4.new_markdown_cell("# Tiny\nA seeded random image and a figure."),
        _parameters(
            'PROFILE = "quick"  # str: profile\nSEED = 0  # int: seed\n'
            "SLEEP = 0.0  # float: seconds to wait"
        ),
        v4.new_code_cell(
            "import os, time\nfrom helpers.runtime import outputs_dir\n"
            '(outputs_dir("02-tiny") / "kernel.pid").write_text(str(os.getpid()))\n'
            "if os.environ.get('HELPERS_TEST_READY'):  # a FIFO the test blocks on\n"
            "    with open(os.environ['HELPERS_TEST_READY'], 'w') as ready:\n"
            "        ready.write(str(os.getpid()))\n"
            "time.sleep(SLEEP)"
        ),
        v4.new_code_cell(
            "import matplotlib.pyplot as plt\nimport torch\n"
            "from helpers.notebook import NotebookRun"
        ),
        v4.new_code_cell('run = NotebookRun("02-tiny", seed=SEED, device="cpu", profile=PROFILE)'),
        v4.new_code_cell(
            "image = torch.rand(1, 3, 12, 16)\nweight = torch.randn(3, 3, 3, 3)\n"
            "result = torch.nn.functional.conv2d(image, weight, padding=1).sigmoid()\n"
            "run.save_image('result', result)\nfig, ax = plt.subplots(figsize=(2, 2))\n"
            "ax.imshow(result[0].permute(1, 2, 0))"
        ),
        v4.new_code_cell("run.save_metrics(mean=float(result.mean()))"),
    )
    slow = _notebook(
        v4.new_markdown_cell("# Slow"),
        _parameters("SLEEP = 60.0  # float: seconds"),
        v4.new_code_cell("import time"),
        v4.new_code_cell("time.sleep(SLEEP)"),
    )
    for name, nb in (("01-broken", broken), ("02-tiny", tiny), ("03-slow", slow)):
        nbformat.write(nb, str(nbs / f"{name}.ipynb"))
    for profile, sleep in (("smoke", 30), ("quick", 0)):
        (configs / profile).mkdir(parents=True)
        (configs / profile / "01-broken.yaml").write_text(f"PROFILE: {profile}\n")
        (configs / profile / "02-tiny.yaml").write_text(f"PROFILE: {profile}\nSLEEP: {sleep}\n")
        (configs / profile / "03-slow.yaml").write_text("SLEEP: 60\n")
    return nbs, configs


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    out = tmp_path / "outputs"
    monkeypatch.setenv("HELPERS_OUTPUTS", str(out))
    return out


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """The fake series 01-broken, 02-tiny run once (quick profile) and rendered."""
    root = tmp_path_factory.mktemp("series")
    nbs, configs = make_fake_series(root)
    out = root / "outputs"
    old = os.environ.get("HELPERS_OUTPUTS")
    os.environ["HELPERS_OUTPUTS"] = str(out)
    try:
        notebooks = report.discover(nbs, ["01", "02"])
        results = report.run_series(notebooks, profile="quick", configs=configs, timeout=120)
        index = report.render_report(results, notebooks=nbs, configs=configs)
    finally:
        if old is None:
            os.environ.pop("HELPERS_OUTPUTS")
        else:
            os.environ["HELPERS_OUTPUTS"] = old
    return {
        "root": root,
        "notebooks": nbs,
        "configs": configs,
        "out": out,
        "results": results,
        "index": index,
    }


# ----------------------------------------------------------------------------- profiles


def test_auto_profile_follows_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert report.resolve_profile("auto") == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert report.resolve_profile("auto") == "full"
    assert report.resolve_profile("smoke") == "smoke"
    with pytest.raises(UserError, match="unknown profile 'tiny'"):
        report.resolve_profile("tiny")


def test_discover_orders_and_selects(tmp_path):
    for name in ("10-last", "02-b", "01-a", "notes", "3-bad"):
        nbformat.write(_notebook(), str(tmp_path / f"{name}.ipynb"))
    assert [p.stem for p in report.discover(tmp_path)] == ["01-a", "02-b", "10-last"]
    chosen = report.discover(tmp_path, report.parse_only("10, 01-a"))
    assert [p.stem for p in chosen] == ["01-a", "10-last"]
    with pytest.raises(
        UserError, match=r"--only 07: no such notebook .* choose from 01-a, 02-b, 10-last"
    ):
        report.discover(tmp_path, ["07"])
    with pytest.raises(UserError, match="no notebooks matching"):
        report.discover(tmp_path / "empty")


def test_every_notebook_has_all_three_profiles():
    """configs/<profile>/<stem>.yaml exists for every notebook and names only its parameters."""
    notebooks = report.discover(ROOT / "notebooks")
    for notebook in notebooks:
        names = set(report.notebook_parameters(notebook))
        assert {"PROFILE", "SEED", "DEVICE"} <= names, notebook.name
        for profile in report.PROFILES:
            values = report.profile_parameters(notebook, profile, ROOT / "configs")
            assert values.get("PROFILE") == profile, f"configs/{profile}/{notebook.stem}.yaml"
    stems = {p.stem for p in notebooks}
    for profile in report.PROFILES:
        orphans = {p.stem for p in (ROOT / "configs" / profile).glob("*.yaml")} - stems
        assert not orphans, f"configs/{profile} has files for no notebook: {orphans}"


def test_bad_parameter_files_are_clear_errors(tmp_path):
    nbs, configs = make_fake_series(tmp_path)
    tiny = nbs / "02-tiny.ipynb"
    assert report.profile_parameters(tiny, "smoke", configs) == {"PROFILE": "smoke", "SLEEP": 30}
    with pytest.raises(UserError, match=r"no parameter file .*full/02-tiny.yaml"):
        report.profile_parameters(tiny, "full", configs)
    (configs / "smoke" / "02-tiny.yaml").write_text("SIZE: 64\nSLEEP: 1\n")
    with pytest.raises(
        UserError,
        match=r"SIZE not in the parameters cell of 02-tiny.ipynb; "
        r"valid names: PROFILE, SEED, SLEEP",
    ):
        report.profile_parameters(tiny, "smoke", configs)
    (configs / "smoke" / "02-tiny.yaml").write_text("SLEEP: [1,\n")
    with pytest.raises(UserError, match="not valid YAML"):
        report.profile_parameters(tiny, "smoke", configs)


def test_parameters_cell_is_read_like_python(tmp_path):
    """Every NAME = literal line counts, also with '=' in its comment (papermill's regex skips
    those)."""
    source = (
        'PROFILE = "quick"  # str: profile\nSIZE = 0  # int: 0 = as stored\n'
        'LAYERS = [\n    "conv1_1",\n]  # list: names\n'
    )
    path = tmp_path / "01-x.ipynb"
    nbformat.write(_notebook(_parameters(source)), str(path))
    params = report.notebook_parameters(path)
    assert list(params) == ["PROFILE", "SIZE", "LAYERS"]
    assert params["SIZE"]["default"] == "0" and params["SIZE"]["help"] == "int: 0 = as stored"
    assert params["LAYERS"]["help"] == "list: names"
    nbformat.write(_notebook(v4.new_code_cell("x = 1")), str(path))
    with pytest.raises(UserError, match="no cell tagged 'parameters'"):
        report.notebook_parameters(path)


def test_cli_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["report", "--only", "99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --only 99: no such notebook") and err.count("\n") == 1
    assert main(["report", "--no-run"]) == 2
    assert "--no-run does nothing without --check or --record" in capsys.readouterr().err
    assert main(["report", "--timeout", "0"]) == 2


# ----------------------------------------------------------------------------- running, rendering


@pytest.mark.slow
def test_failing_notebook_is_named_and_the_rest_still_run(series):
    broken, tiny = series["results"]
    assert broken.status == "failed" and tiny.status == "passed"
    # cell 3 of the committed notebook (papermill's injected cells are not counted)
    assert broken.failed.index == 3
    assert broken.failed.source == "y = x + 1"
    assert broken.failed.error == "ValueError: deliberate failure"
    assert tiny.device.startswith("cpu") and tiny.parameters == {"PROFILE": "quick", "SLEEP": 0}
    table = report.results_table(series["results"])
    assert "01-broken  FAILED" in table and "cell 3 (In [" in table
    assert "y = x + 1 -> ValueError: deliberate failure" in table
    assert "1/2 passed" in table
    executed = nbformat.read(str(series["out"] / "notebooks" / "02-tiny.ipynb"), as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'PROFILE = "quick"' in injected[0].source
    assert "SLEEP = 0" in injected[0].source
    saved = json.loads((series["out"] / "notebooks" / "results.json").read_text())
    assert saved["results"][0]["status"] == "failed"


@pytest.mark.slow
def test_report_pages(series):
    folder = series["index"].parent
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["01-broken.html", "02-tiny.html", "index.html"]
    index = series["index"].read_text()
    assert 'href="01-broken.html"' in index and 'href="02-tiny.html"' in index
    assert "FAILED" in index and "deliberate failure" in index and "<table" in index
    page = (folder / "02-tiny.html").read_text()
    assert page.count('<details class="report-code"') >= 5  # every code cell folded
    assert '<details class="report-parameters">' in page  # the parameters sit in a collapsed block
    assert "data:image/png;base64," in page  # the figure is inline
    assert "cpu (" in page and "SLEEP" in page and "configs/quick/02-tiny.yaml" in page
    assert "require.min.js" not in page  # no require.js: nothing here needs it
    broken = (folder / "01-broken.html").read_text()
    assert "report-failure" in broken and "deliberate failure" in broken


def test_progress_bars_render_as_their_last_state(tmp_path, outputs):
    nb = _notebook(
        v4.new_markdown_cell("# Bars"), _parameters("SEED = 0"), v4.new_code_cell("run()")
    )
    nb.cells[-1].outputs = [
        v4.new_output("stream", name="stderr", text=f"\rsteps: {i:3d}%|") for i in (0, 40, 100)
    ]
    nb.cells[-1].outputs.append(v4.new_output("stream", name="stderr", text="\n"))
    executed = outputs / "notebooks" / "01-bars.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(nb, str(executed))
    result = report.NotebookResult("01-bars", "passed", 1.0, "smoke", executed=str(executed))
    page = (report.render_report([result], notebooks=tmp_path).parent / "01-bars.html").read_text()
    assert "steps: 100%|" in page and "steps:  40%|" not in page and "steps:   0%|" not in page
    assert 'data-mime-type="application/vnd.jupyter.stderr"' in page
    nb.cells[-1].outputs[-1].text = "\r          \r"  # a bar that clears itself (tqdm leave=False)
    nbformat.write(nb, str(executed))
    page = (report.render_report([result], notebooks=tmp_path).parent / "01-bars.html").read_text()
    assert "steps:" not in page and 'data-mime-type="application/vnd.jupyter.stderr"' not in page


@pytest.mark.slow
def test_a_notebook_past_its_time_limit_fails_naming_the_cell(series, outputs):
    result = report.run_notebook(
        series["notebooks"] / "03-slow.ipynb",
        profile="smoke",
        parameters={"SLEEP": 60},
        out_dir=outputs / "notebooks",
        timeout=4,
    )
    # the clock starts once the kernel is ready, so the 4 s go to the cells, and the cell named
    # is the sleeping one even when the kernel is slow to start (no wall-clock assert here)
    assert result.status == "failed"
    assert result.failed.index == 3 and result.failed.source == "time.sleep(SLEEP)"
    assert "time limit of 4 s" in result.failed.error
    # the attempt is kept beside the (here absent) previous copy, never under its name
    assert result.executed == str(outputs / "notebooks" / "03-slow.failed.ipynb")
    assert Path(result.executed).is_file()
    assert not (outputs / "notebooks" / "03-slow.ipynb").exists()


def test_cell_clock_starts_when_the_kernel_is_ready(monkeypatch):
    """A kernel that takes 100 s to start leaves the cells their whole time limit."""
    from helpers.report import run

    now = [1000.0]
    monkeypatch.setattr(run.time, "monotonic", lambda: now[0])
    clock = run._CellClock(4)
    now[0] += 100.0  # kernel start-up
    clock.on_notebook_start(notebook=None)
    assert clock.timeout(None) == 4
    now[0] += 3.5
    assert clock.timeout(None) == 1  # what is left, rounded up
    now[0] += 10
    assert clock.timeout(None) == 1  # past the deadline: nbclient's "no limit" is never given


def _wait_readable(fd: int, proc: subprocess.Popen, seconds: float) -> bool:
    """Block (select, no polling of files) until ``fd`` has data, ``proc`` exits or time is up."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], min(left, 10.0))
        if readable:
            return True
        if proc.poll() is not None:  # checked every 10 s only if nothing arrives
            return False
    return False


def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") or ".part" in p.name]


def _wait_exit(pid: int, seconds: float) -> bool:
    """Block (a pidfd in select, no polling) until process ``pid`` has exited, or time is up."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], seconds)[0])
    finally:
        os.close(fd)


@pytest.mark.slow
def test_killed_run_leaves_no_partial_file_and_the_next_run_completes(series, tmp_path):
    """SIGTERM and then SIGINT mid-notebook: the previous complete outputs survive untouched,
    no temporary file or kernel is left behind, and the next run completes with an image
    bitwise identical to the first run's (same seed, CPU)."""
    out = tmp_path / "outputs"
    shutil.copytree(series["out"] / "notebooks", out / "notebooks")
    shutil.copytree(series["out"] / "report", out / "report")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    env = {**os.environ, "HELPERS_OUTPUTS": str(out)}
    cmd = [
        sys.executable,
        "-m",
        "helpers",
        "report",
        "--notebooks",
        str(series["notebooks"]),
        "--configs",
        str(series["configs"]),
        "--only",
        "02",
    ]
    for sig in (signal.SIGTERM, signal.SIGINT):
        fifo = tmp_path / f"ready-{sig.name}"
        os.mkfifo(fifo)  # the notebook writes its kernel's pid here once it runs
        ready = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        proc = interruptible(
            [*cmd, "--profile", "smoke"],
            cwd=tmp_path,
            env={**env, "HELPERS_TEST_READY": str(fifo)},
        )
        try:
            assert _wait_readable(ready, proc, 240), "the notebook never started"
            kernel = int(os.read(ready, 64))
            partial = list((out / "notebooks").glob(".02-tiny.ipynb.*.part.ipynb"))
            assert partial, "papermill is not writing to a temporary file"
            proc.send_signal(sig)
            # a loaded machine stops the kernel slowly
            stdout, stderr = proc.communicate(timeout=180)
        finally:
            proc.kill()
            os.close(ready)
        assert proc.returncode == 130, (stdout, stderr)
        assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr
        assert _wait_exit(kernel, 10), "the kernel outlived the run"
        assert _partials(out) == []
        # the attempt is kept beside the untouched previous result, under a clear name
        assert (out / "02-tiny.failed" / "kernel.pid").is_file() and not (out / "02-tiny").exists()
        after = {
            p: p.read_bytes()
            for p in out.rglob("*")
            if p.is_file() and not any(part.startswith("02-tiny.failed") for part in p.parts)
        }
        assert after == before

    done = subprocess.run(
        [*cmd, "--profile", "quick"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "02-tiny: passed" in done.stdout and "1/1 passed" in done.stdout
    assert _partials(out) == []
    assert not (out / "02-tiny.failed").exists()  # a later run removes the failed attempt
    assert not (out / "notebooks" / "02-tiny.failed.ipynb").exists()
    assert nbformat.read(str(out / "notebooks" / "02-tiny.ipynb"), as_version=4).cells
    # --only 02: the report keeps 01's page from the earlier run under the same profile
    pages = sorted(p.name for p in (out / "report").iterdir())
    assert pages == ["01-broken.html", "02-tiny.html", "index.html"]
    series_now = report.load_results(out / "notebooks" / "results.json")
    assert [r.notebook for r in series_now] == ["01-broken", "02-tiny"]
    first = (series["out"] / "02-tiny" / "result.png").read_bytes()
    assert (out / "02-tiny" / "result.png").read_bytes() == first


def test_prepare_writes_parameterised_unexecuted_copies(tmp_path, outputs):
    nbs, configs = make_fake_series(tmp_path)
    (outputs / "02-tiny").mkdir(parents=True)
    (outputs / "02-tiny" / "metrics.json").write_text("{}")  # stale: must not survive
    written = report.prepare_notebooks(
        report.discover(nbs, ["02"]), profile="smoke", dest=tmp_path / "nbval", configs=configs
    )
    assert [p.name for p in written] == ["02-tiny.ipynb"]
    nb = nbformat.read(str(written[0]), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "SLEEP = 30" in injected[0].source and 'PROFILE = "smoke"' in injected[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert not (outputs / "02-tiny").exists()


# ----------------------------------------------------------------------------- committed notebooks


def test_nbstripout_verify_fails_on_a_notebook_with_outputs(tmp_path):
    """`make lint` runs `nbstripout --verify notebooks/*.ipynb`: clean now, and it would catch
    outputs."""
    nbstripout = [sys.executable, "-m", "nbstripout", "--verify"]
    committed = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert subprocess.run([*nbstripout, *committed], capture_output=True).returncode == 0
    nb = nbformat.read(committed[0], as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    cell.outputs = [v4.new_output("stream", name="stdout", text="hello\n")]
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(nb, str(dirty))
    assert subprocess.run([*nbstripout, str(dirty)], capture_output=True).returncode != 0


def test_nbval_sanitizers_as_nbval_reads_them():
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text())
    # every section parsed (an empty "replace:" would be dropped silently)
    assert len(patterns) == 6

    def sanitize(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    assert (
        sanitize("<helpers.nst.vgg.VGGFeatures object at 0x7f3a2b1c4d50>")
        == "<helpers.nst.vgg.VGGFeatures object at 0xADDRESS>"
    )
    bars = (
        "stylize:  40%|####      | 4/10 [00:01<00:02,  2.51it/s]\r"
        "stylize: 100%|##########| 10/10 [00:03<00:00,  3.02it/s]"
    )
    assert sanitize(bars) == "stylize: PROGRESS"
    assert sanitize("solved in 0.42 s (12 ms per channel)") == "solved in TIME (TIME per channel)"
    assert sanitize("device: cpu (2 threads); photo 64x48 px") == "device: DEVICE; photo 64x48 px"
    assert (
        sanitize("PosixPath('/work/main/outputs/01-vgg-setup/a.png')")
        == "PosixPath('<ROOT>/outputs/01-vgg-setup/a.png')"
    )
    assert sanitize("max abs error 3.1e-12 at step 5") == "max abs error 3.1e-12 at step 5"
