"""helpers.sweep: grid expansion and run ids, skip-if-done, a failing run among good ones, a worker
killed mid-sweep, the Slurm job script.

The sweeps run a tiny synthetic notebook (no torch: it writes a coloured PNG and a
``metrics.json`` whose metric is an oracle, VALUE squared) on a two-worker local Dask cluster
shared by the module, so the whole file takes seconds per sweep, not minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from helpers.cli import main
from helpers.errors import UserError
from helpers.report.sweep_page import add_sweep_pages
from helpers.sweep import (
    SlurmOptions,
    cluster_kwargs,
    expand_grid,
    load_sweep,
    read_results_csv,
    run_sweep,
    sweep_root,
)
from helpers.sweep import runner as sweep_runner

ROOT = Path(__file__).resolve().parent.parent
v4 = nbformat.v4

FAKE = "01-fake"
PARAMETERS = """\
PROFILE = "quick"  # str: profile
SEED = 0  # int: seed
VALUE = 1  # int: the value the run squares
LABEL = "a"  # str: a second, textual parameter
FAIL_ON = -1  # int: raise in the third cell when VALUE equals this
KILL_ON = -1  # int: when VALUE equals this, kill the Dask worker once (MARKER remembers)
MARKER = ""  # str: file that records the kill
"""
WORK = """\
import json, os, signal
from PIL import Image
from helpers.runtime import outputs_dir
out = outputs_dir("01-fake")
if VALUE == KILL_ON and not os.path.exists(MARKER):
    open(MARKER, "w").write(str(os.getpid()))
    import psutil
    worker = psutil.Process(os.getppid()).ppid()  # kernel <- run's process <- Dask worker
    os.kill(worker, signal.SIGKILL)
    import time; time.sleep(30)
Image.new("RGB", (8, 8), (40 * VALUE % 256, 0, 0)).save(out / "key.png")
"""
FAILS = """\
if VALUE == FAIL_ON:
    raise ValueError(f"deliberate failure at VALUE={VALUE}")
"""
SAVE = """\
record = {"device": "cpu (fake)", "images": ["key"], "figures": [],
          "metrics": {"square": VALUE ** 2, "label": LABEL, "nested": {"skip": 1}}}
(out / "metrics.json").write_text(json.dumps(record))
"""


def _fake_series(root: Path) -> tuple[Path, Path]:
    nbs, configs = root / "notebooks", root / "configs"
    nbs.mkdir(parents=True)
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        v4.new_markdown_cell("# Fake\nSquares a value."),
        params,
        v4.new_code_cell(WORK),
        v4.new_code_cell(FAILS),
        v4.new_code_cell(SAVE),
    ]
    nbformat.write(nb, str(nbs / f"{FAKE}.ipynb"))
    for profile in ("smoke", "quick"):
        (configs / profile).mkdir(parents=True)
        (configs / profile / f"{FAKE}.yaml").write_text(f"PROFILE: {profile}\n")
    return nbs, configs


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> tuple[Path, Path]:
    return _fake_series(tmp_path_factory.mktemp("series"))


@pytest.fixture
def outputs(tmp_path, monkeypatch) -> Path:
    out = tmp_path / "outputs"
    monkeypatch.setenv("HELPERS_OUTPUTS", str(out))
    return out


@pytest.fixture(scope="module")
def client():
    """Two single-threaded local workers, as ``sweep --workers 2`` starts them."""
    from distributed import Client

    cluster = sweep_runner.local_cluster([None, None], dashboard=":0")
    with cluster, Client(cluster) as c:
        yield c


def write_sweep(path: Path, series, **data) -> Path:
    nbs, _ = series
    body = {"notebook": str(nbs / f"{FAKE}.ipynb"), "profile": "smoke", **data}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def load(path: Path, series):
    return load_sweep(path, notebooks=series[0], configs=series[1])


# ----------------------------------------------------------------------------- grid and ids


def test_grid_products_and_zips():
    grid = {"product": {"A": [1, 2], "B": ["x", "y", "z"]}, "zip": {"C": [0, 1], "D": ["p", "q"]}}
    points = expand_grid(grid)
    assert len(points) == 2 * 3 * 2  # the zip group is one axis of two points
    assert {(p["C"], p["D"]) for p in points} == {(0, "p"), (1, "q")}  # zipped, not crossed
    assert len({json.dumps(p, sort_keys=True) for p in points}) == len(points)
    assert points[0] == {"A": 1, "B": "x", "C": 0, "D": "p"}  # the file's order, last axis fastest
    assert points[1] == {"A": 1, "B": "x", "C": 1, "D": "q"}
    # several zip groups, and a list of blocks whose shared point runs once
    two_zips = expand_grid({"zip": [{"A": [1, 2], "B": [3, 4]}, {"C": [5, 6]}]})
    assert len(two_zips) == 4
    union = expand_grid([{"product": {"A": [1, 2]}}, {"product": {"A": [2, 3]}}])
    assert [p["A"] for p in union] == [1, 2, 3]


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"zip": {"A": [1, 2], "B": [1]}}, "equally long"),
        ({"product": {"A": [1]}, "zip": {"A": [2]}}, "varied twice"),
        ({"product": {"A": []}}, "non-empty list"),
        ({"cross": {"A": [1]}}, "product"),
    ],
)
def test_bad_grids_are_one_line(grid, message):
    with pytest.raises(UserError, match=message):
        expand_grid(grid)


def test_run_ids_are_stable_and_derive_from_parameters(tmp_path, series):
    grid = {"product": {"VALUE": [1, 2]}, "zip": {"LABEL": ["a", "b"], "SEED": [0, 1]}}
    first = load(write_sweep(tmp_path / "s.yaml", series, grid=grid), series)
    ids = [r.id for r in first.runs]
    assert len(ids) == len(set(ids)) == 4
    assert ids[0].startswith("value=1__label=a__seed=0-")
    # the same parameters in another order, in another process with another hash seed
    reordered = {"zip": {"SEED": [0, 1], "LABEL": ["a", "b"]}, "product": {"VALUE": [1, 2]}}
    path = write_sweep(tmp_path / "t.yaml", series, grid=reordered)
    code = (
        "import sys, json; from pathlib import Path; from helpers.sweep import load_sweep\n"
        "s = load_sweep(sys.argv[1], notebooks=Path(sys.argv[2]), configs=Path(sys.argv[3]))\n"
        "print(json.dumps(sorted(r.id.rsplit('-', 1)[1] for r in s.runs)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), *map(str, series)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert json.loads(out) == sorted(i.rsplit("-", 1)[1] for i in ids)
    # a changed fixed parameter changes every id
    other = load(
        write_sweep(tmp_path / "u.yaml", series, grid=grid, parameters={"FAIL_ON": 9}), series
    )
    assert not set(ids) & {r.id for r in other.runs}


def test_bad_sweep_files_are_one_line(tmp_path, series, capsys):
    cases = [
        ({"grid": {"product": {"NOPE": [1]}}}, "NOPE is not in the parameters cell"),
        ({"grid": {"product": {"VALUE": ["1e-3"]}}}, "write 1.0e-3"),
        ({"grid": {"product": {"VALUE": [1]}}, "extra": 1}, "unknown key"),
        ({"parameters": {"VALUE": 2}}, "no 'grid:'"),
    ]
    for data, message in cases:
        path = write_sweep(tmp_path / "bad.yaml", series, **data)
        code = main(
            ["sweep", str(path), "--notebooks", str(series[0]), "--configs", str(series[1])]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and message in err
        assert err.count("\n") == 1


def test_local_layout_never_oversubscribes(monkeypatch):
    cores = sweep_runner.available_cores()
    monkeypatch.setattr(sweep_runner, "gpu_count", lambda: 0)
    for workers in range(1, cores + 1):
        n, threads, devices = sweep_runner.local_layout(workers, runs=10)
        assert n == workers and n * threads <= max(cores, n) and devices == [None] * n
    assert sweep_runner.local_layout(None, runs=1)[0] == 1  # never more workers than runs
    monkeypatch.setattr(sweep_runner, "gpu_count", lambda: 3)
    n, _, devices = sweep_runner.local_layout(None, runs=10)
    assert n == 3 and devices == ["0", "1", "2"]  # one worker per GPU, each pinned


# ----------------------------------------------------------------------------- running


def test_a_failing_run_is_retried_then_reported_and_the_others_finish(
    tmp_path, series, outputs, client
):
    path = write_sweep(
        tmp_path / "fails.yaml",
        series,
        name="fails",
        parameters={"FAIL_ON": 2},
        retries=1,
        grid={"product": {"VALUE": [1, 2, 3]}},
    )
    sweep = load(path, series)
    outcome = run_sweep(sweep, client=client, progress=False, echo=lambda _: None)
    assert (outcome.passed, outcome.failed, outcome.skipped) == (2, 1, 0)
    root = sweep_root(sweep)
    rows = read_results_csv(root / "results.csv")
    assert [r["run_id"] for r in rows] == [r.id for r in sweep.runs]
    by_value = {int(r["VALUE"]): r for r in rows}
    assert [by_value[v]["status"] for v in (1, 2, 3)] == ["passed", "failed", "passed"]
    for v in (1, 3):  # the oracle: the metric is the parameter squared
        assert int(by_value[v]["square"]) == v**2 and by_value[v]["label"] == "a"
        folder = root / by_value[v]["folder"]
        assert (folder / f"{FAKE}.ipynb").is_file() and (folder / "key.png").is_file()
        assert json.loads((folder / "metrics.json").read_text())["metrics"]["square"] == v**2
    failed = by_value[2]
    assert failed["attempt"] == "2"  # tried again once, then reported
    assert (
        "cell 3" in failed["failed_cell"]
        and "ValueError: deliberate failure" in (failed["failed_cell"])
    )
    record = outcome.failures[0]
    assert record["failed"]["index"] == 3 and record["run_id"] == failed["run_id"]
    assert list((root / failed["folder"]).glob("*.ipynb"))  # the attempt kept for inspection
    assert "nested" not in rows[0]  # nested metrics stay in metrics.json
    assert (root / "contact-sheet.png").stat().st_size > 0
    assert not list((root / ".staging").glob("*"))
    # the report's extra page: the table and the contact sheet, linked from the contents page
    report = tmp_path / "report"
    report.mkdir()
    (report / "index.html").write_text("<html><body><h1>Contents</h1></body></html>")
    links = add_sweep_pages(report, base=outputs / "sweeps")
    assert [link["href"] for link in links] == ["sweep-fails.html"]
    page = (report / "sweep-fails.html").read_text()
    assert page.count("<tr>") == 1 + 3 and "ValueError: deliberate failure" in page
    assert (report / "sweep-fails.png").is_file() and (report / "sweep-fails.csv").is_file()
    assert 'href="sweep-fails.html"' in (report / "index.html").read_text()


def test_a_second_run_does_nothing_and_a_new_point_runs_alone(
    tmp_path, series, outputs, client, capsys
):
    path = write_sweep(
        tmp_path / "twice.yaml", series, name="twice", grid={"product": {"VALUE": [1, 2]}}
    )
    first = run_sweep(load(path, series), client=client, progress=False, echo=lambda _: None)
    assert (first.passed, first.skipped) == (2, 0)
    root = outputs / "sweeps" / "twice"
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    # the command again: no cluster, nothing rewritten, and it says so
    args = ["sweep", str(path), "--notebooks", str(series[0]), "--configs", str(series[1])]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and "2 runs are already complete" in out
    assert stamps == {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    # one more value, on a running cluster (--scheduler): only the new run executes
    write_sweep(path, series, name="twice", grid={"product": {"VALUE": [1, 2, 3]}})
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    out = capsys.readouterr().out
    assert f"dashboard: {client.dashboard_link}" in out
    assert out.splitlines()[-1].startswith("sweep twice: 1 passed, 0 failed, 2 skipped")
    rows = read_results_csv(root / "results.csv")
    assert [r["status"] for r in rows] == ["passed"] * 3
    for p, stamp in stamps.items():
        if p.parent.name.startswith("value="):
            assert p.stat().st_mtime_ns == stamp  # the two old runs were not touched


def test_a_worker_killed_mid_run_loses_only_that_run(tmp_path, series, outputs, client):
    marker = tmp_path / "killed"
    path = write_sweep(
        tmp_path / "kill.yaml",
        series,
        name="kill",
        retries=0,
        parameters={"KILL_ON": 2, "MARKER": str(marker)},
        grid={"product": {"VALUE": [1, 2, 3, 4]}},
    )
    sweep = load(path, series)
    outcome = run_sweep(sweep, client=client, progress=False, echo=lambda _: None)
    assert marker.is_file()  # the worker running VALUE=2 was killed once
    assert (outcome.passed, outcome.failed) == (4, 0)  # rescheduled, not retried (retries=0)
    root = sweep_root(sweep)
    rows = read_results_csv(root / "results.csv")
    assert sorted(r["run_id"] for r in rows) == sorted(r.id for r in sweep.runs)  # each once
    assert [int(r["square"]) for r in rows] == [1, 4, 9, 16]
    folders = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert sorted(folders) == sorted(r.id for r in sweep.runs)
    assert not list((root / ".staging").glob("*")) and not (root / ".failed").exists()


# ----------------------------------------------------------------------------- the shipped sweep


def test_the_smoke_sweep_file_expands_to_a_few_distinct_runs():
    sweep = load_sweep(ROOT / "sweeps" / "smoke.yaml")
    assert 4 <= len(sweep.runs) <= 8
    ids = [r.id for r in sweep.runs]
    assert len(set(ids)) == len(ids) and all(i == Path(i).name for i in ids)
    assert ids == [r.id for r in load_sweep(ROOT / "sweeps" / "smoke.yaml").runs]


@pytest.mark.slow
def test_the_smoke_sweep_runs_on_two_workers_then_does_nothing(outputs, capsys):
    """The issue's done-means, on the real notebook: every run one complete row; then nothing."""
    args = ["sweep", str(ROOT / "sweeps" / "smoke.yaml"), "--workers", "2"]
    assert main(args) == 0
    sweep = load_sweep(ROOT / "sweeps" / "smoke.yaml")
    rows = read_results_csv(outputs / "sweeps" / sweep.name / "results.csv")
    assert [r["run_id"] for r in rows] == [r.id for r in sweep.runs]
    assert all(r["status"] == "passed" and float(r["seconds"]) > 0 and r["device"] for r in rows)
    capsys.readouterr()
    assert main(args) == 0
    assert "nothing to do" in capsys.readouterr().out


# ----------------------------------------------------------------------------- Slurm


def test_slurm_job_script(tmp_path, series, capsys):
    path = write_sweep(tmp_path / "s.yaml", series, grid={"product": {"VALUE": [1]}})
    code = main(
        [
            "sweep",
            str(path),
            "--notebooks",
            str(series[0]),
            "--configs",
            str(series[1]),
            "--slurm",
            "--queue",
            "gpu",
            "--account",
            "lab",
            "--walltime",
            "02:30:00",
            "--memory",
            "32GB",
            "--cores",
            "8",
            "--gpus",
            "1",
            "--sbatch=--constraint=a100",
            "--dry-run",
        ]
    )
    script = capsys.readouterr().out
    assert code == 0
    directives = [
        line.split(None, 1)[1] for line in script.splitlines() if line.startswith("#SBATCH")
    ]
    for expected in (
        "-p gpu",
        "-A lab",
        "-t 02:30:00",
        "--cpus-per-task=8",
        "--gres=gpu:1",
        "--constraint=a100",
    ):
        assert expected in directives
    mem = next(d for d in directives if d.startswith("--mem="))
    assert abs(float(mem.removeprefix("--mem=").rstrip("G")) * 2**30 - 32e9) < 0.02 * 32e9
    worker = next(line for line in script.splitlines() if "dask_worker" in line)
    assert worker.startswith(sys.executable) and "--nthreads 1" in worker  # one run at a time
    assert "export HELPERS_SWEEP_THREADS=8" in script  # ... using all the job's cores
    assert cluster_kwargs(SlurmOptions())["job_extra_directives"] == []  # no GPU by default
    for bad in (["--walltime", "2h"], ["--gpus", "2"], ["--memory", "lots"]):
        assert main(["sweep", str(path), "--slurm", "--dry-run", *bad]) == 2
        assert capsys.readouterr().err.startswith("error: ")


# ----------------------------------------------------------------------------- the sweep extra

NO_DASK = """\
import sys
for name in ("dask", "distributed", "dask_jobqueue"):
    sys.modules[name] = None  # as if the sweep extra were not installed: importing them fails
import helpers, helpers.cli, helpers.gdf, helpers.nst, helpers.report, helpers.sweep
from helpers.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_the_dask_stack_is_the_sweep_extra_and_the_dev_extra_has_it():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not [d for d in project["dependencies"] if d.startswith("dask")]
    assert {"dask[distributed,diagnostics]>=2024.1", "dask-jobqueue>=0.8"} == set(extras["sweep"])
    assert set(extras["sweep"]) <= set(extras["dev"])  # make test and CI run the sweeps


def test_without_the_sweep_extra_helpers_imports_and_a_sweep_is_one_line(tmp_path, series):
    path = write_sweep(tmp_path / "s.yaml", series, grid={"product": {"VALUE": [1]}})
    common = ["sweep", str(path), "--notebooks", str(series[0]), "--configs", str(series[1])]
    for extra in ([], ["--slurm", "--dry-run"]):
        proc = subprocess.run(
            [sys.executable, "-c", NO_DASK, *common, *extra],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "HELPERS_OUTPUTS": str(tmp_path / "outputs")},
            timeout=120,
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert proc.stderr.startswith("error: ") and "pip install -e '.[sweep]'" in proc.stderr
    assert not (tmp_path / "outputs").exists()  # refused before anything was written
