"""Shared machinery for the bad-input matrix (issue 7): make bad files and odd image kinds, run
the CLI, check the contract.

The contract for every bad input: exit code 2, exactly one ``error: ...`` line on stderr, no
traceback, no output file (nor a temporary sibling), and every input file byte-identical
afterwards.

Set ``BADINPUT_TABLE=/some/file.jsonl`` when running the matrix to append one JSON line per
case (case id, exit code, the error line or what worked); ``python tests/badinput.py FILE``
prints it as the markdown table of the issue's closing note.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str | os.PathLike,
    subprocess_: bool = False,
    timeout: float = 300,
    env: dict | None = None,
) -> CliResult:
    """Run ``python -m helpers ARGS`` in-process (fast) or as a real subprocess.

    In-process, an exception other than the CLI's own handling escapes to the test (and fails
    it with its traceback), which is exactly what the matrix is looking for.
    """
    argv = [str(a) for a in args]
    if subprocess_:
        proc = subprocess.run(
            [sys.executable, "-m", "helpers", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)
    from helpers.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(int(code), out.getvalue(), err.getvalue())


def _digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (
        PermissionError
    ):  # a mode-000 file when not running as root: size, mtime and mode must not change
        st = path.stat()
        return f"unreadable:{st.st_size}:{st.st_mtime_ns}:{st.st_mode:o}"


def hashes(paths) -> dict[str, str | None]:
    """sha256 per path (None for a missing path or a folder)."""
    return {str(p): _digest(Path(p)) for p in paths}


def leftovers(output: Path) -> list[str]:
    """Files beside ``output`` that a failed run must not leave: the output itself, its atomic
    temporaries (``.NAME.*.part``) and ``<stem>.interrupted.png``."""
    output = Path(output)
    if not output.parent.is_dir():
        return []
    return sorted(
        p.name
        for p in output.parent.iterdir()
        if p.name == output.name
        or p.name.startswith(f".{output.name}.")
        or p.name.startswith(f"{output.stem}.")
    )


def assert_clean_error(
    result: CliResult,
    *,
    output: Path | None,
    inputs_before: dict,
    contains: str | tuple[str, ...] | None = None,
) -> str:
    """The bad-input contract; returns the error line for further checks.

    ``contains``: text (or several texts) the error line must contain, case-insensitive.
    """
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == 2, f"exit code {result.code}, stderr: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and len(lines) == 1, f"want exactly one error line, got: {lines}"
    for text in (contains,) if isinstance(contains, str) else (contains or ()):
        assert text.lower() in errors[0].lower(), f"{text!r} not in {errors[0]!r}"
    if output is not None:
        assert leftovers(output) == [], f"output written: {leftovers(output)}"
    assert hashes(inputs_before) == inputs_before, "an input file changed"
    return errors[0]


def record(case: str, result: CliResult | str) -> None:
    """Append the observed behaviour of ``case`` to ``$BADINPUT_TABLE`` (if set)."""
    target = os.environ.get("BADINPUT_TABLE")
    if not target:
        return
    if isinstance(result, str):  # a function-level case: what it raised, or what worked
        row = {
            "case": case,
            "code": "UserError" if result.startswith("error: ") else "-",
            "behaviour": result,
        }
    else:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        if errors:
            behaviour = errors[0]
        elif result.code == 0 and result.stdout.strip():
            behaviour = "works: " + result.stdout.strip().splitlines()[-1]
        else:
            lines = result.stderr.strip().splitlines()
            behaviour = lines[-1] if lines else f"exit {result.code}"
        row = {"case": case, "code": result.code, "behaviour": behaviour}
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


# ----------------------------------------------------------------------------- files


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(path)
    return path


BAD_FILE_CASES = (
    "missing",
    "directory",
    "empty",
    "truncated-png",
    "truncated-jpg",
    "text-as-png",
    "unreadable",
)


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, text the error must contain) for every broken-file case.

    ``unreadable`` is a file with mode 000; root reads it anyway, so tests combine it with
    :func:`deny_access` (which makes ``os.access`` answer as it would for a normal user).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (120, 120, 3), dtype=np.uint8)
    good_png = write_png(folder / "good_for_truncation.png", big)
    Image.fromarray(big).save(folder / "good_for_truncation.jpg", quality=90)
    (folder / "truncated.png").write_bytes(good_png.read_bytes()[: good_png.stat().st_size // 2])
    jpg = (folder / "good_for_truncation.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image\n")
    (folder / "a_directory.png").mkdir(exist_ok=True)
    locked = write_png(folder / "locked.png", big[:32, :32])
    locked.chmod(0)
    return {
        "missing": (folder / "does_not_exist.png", "not found"),
        "directory": (folder / "a_directory.png", "directory"),
        "empty": (folder / "empty.png", "empty"),
        "truncated-png": (folder / "truncated.png", "truncated"),
        "truncated-jpg": (folder / "truncated.jpg", "truncated"),
        "text-as-png": (folder / "text.png", "not a readable image"),
        "unreadable": (locked, "permission denied"),
    }


def deny_access(monkeypatch, *paths: Path) -> None:
    """Make ``os.access`` say no for ``paths`` (what a non-root user gets for mode 000).

    Only these paths: patching ``os.access`` wholesale would also make every output folder
    look unwritable.
    """
    real = os.access
    denied = {str(Path(p).resolve()) for p in paths}

    def access(path, mode, *args, **kwargs):
        if str(Path(path).resolve()) in denied:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# ----------------------------------------------------------------------------- image kinds


@dataclass
class Kind:
    """An image file of one kind and what a correct reader must make of it."""

    path: Path
    # (H, W, 3) float64 in [0, 1] as displayed (EXIF applied), computed with Pillow/NumPy directly
    rgb: np.ndarray
    grey: np.ndarray  # (H, W) float64 in [0, 1]
    atol: float  # decoding tolerance (lossy formats)


IMAGE_KINDS = (
    "grey",
    "grey-alpha",
    "rgba",
    "palette",
    "grey-16bit",
    "cmyk-jpeg",
    "exif-rotated-jpeg",
)


def card_image(h: int, w: int) -> np.ndarray:
    """(h, w, 3) uint8 with distinct rows and columns (so rotations and flips are detectable)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [(x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), ((x + 2 * y) * 97) % 256], axis=2
    ).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def image_kind(folder: Path, kind: str, h: int = 24, w: int = 32) -> Kind:
    """Write one ``kind`` of image (``h`` x ``w`` pixels as stored) and its expected decoding."""
    folder.mkdir(parents=True, exist_ok=True)
    card = card_image(h, w)
    grey8 = card[..., 0] // 2 + card[..., 1] // 2
    if kind == "grey":
        path = folder / "grey.png"
        Image.fromarray(grey8, "L").save(path)
        g = grey8 / 255.0
        return Kind(path, np.repeat(g[..., None], 3, 2), g, 1e-6)
    if kind == "grey-alpha":
        path = folder / "grey_alpha.png"
        alpha = np.full_like(grey8, 200)
        Image.merge("LA", [Image.fromarray(grey8, "L"), Image.fromarray(alpha, "L")]).save(path)
        g = grey8 / 255.0
        return Kind(path, np.repeat(g[..., None], 3, 2), g, 1e-6)
    if kind == "rgba":
        path = folder / "rgba.png"
        alpha = np.full((h, w), 255, np.uint8)
        alpha[: h // 3] = 90  # partly transparent: colour must still be read as stored
        Image.fromarray(np.dstack([card, alpha]), "RGBA").save(path)
        rgb = card / 255.0
        return Kind(path, rgb, _luma(rgb), 1e-6)
    if kind == "palette":
        path = folder / "palette.png"
        pal = Image.fromarray(card).quantize(colors=32)
        pal.save(path)
        rgb = np.asarray(pal.convert("RGB")) / 255.0
        return Kind(path, rgb, _luma(rgb), 1e-6)
    if kind == "grey-16bit":
        path = folder / "deep.png"
        values = (grey8.astype(np.uint16) * 257 + (np.arange(h * w).reshape(h, w) % 200)).astype(
            np.uint16
        )
        Image.fromarray(values).save(path)  # mode I;16
        g = values / 65535.0
        return Kind(path, np.repeat(g[..., None], 3, 2), g, 1e-6)
    if kind == "cmyk-jpeg":
        path = folder / "cmyk.jpg"
        smooth = np.repeat(np.repeat(card[::4, ::4], 4, 0), 4, 1)[
            :h, :w
        ]  # blocks: little JPEG ringing
        Image.fromarray(smooth).convert("CMYK").save(path, quality=100)
        rgb = smooth / 255.0
        return Kind(path, rgb, _luma(rgb), 0.1)
    if kind == "exif-rotated-jpeg":
        path = folder / "phone.jpg"
        smooth = np.repeat(np.repeat(card[::4, ::4], 4, 0), 4, 1)[:h, :w]
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display": stored h x w, shown w x h
        Image.fromarray(smooth).save(path, exif=exif, quality=100, subsampling=0)
        rgb = np.rot90(smooth, k=-1) / 255.0
        return Kind(path, rgb, _luma(rgb), 0.1)
    raise ValueError(kind)


def table(jsonl: str | os.PathLike) -> str:
    """The recorded cases as a markdown table (last record per case wins)."""
    rows: dict[str, dict] = {}
    for line in Path(jsonl).read_text().splitlines():
        row = json.loads(line)
        rows[row["case"]] = row
    out = ["| case | exit | behaviour |", "|---|---|---|"]
    for case in sorted(rows):
        text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/ ]+/", "", rows[case]["behaviour"])
        text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/ ]+", "<tmp>", text).replace("|", "\\|")
        out.append(f"| {case} | {rows[case]['code']} | {text} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(sys.argv[1]))
