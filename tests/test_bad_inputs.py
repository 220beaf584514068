"""The bad-input matrix of issue 7, through the CLI (stylize, blend, toy, weights, assets, report)
and through the helpers' public functions.

One parametrised test per family of cases.  Every case either works — and the result is
checked against an independent expectation, not just exit 0 — or follows the contract of
:func:`badinput.assert_clean_error`: exit 2, one ``error:`` line naming the file or parameter
and what to do, no traceback, no output file or temporary, inputs byte-identical.

Cases already covered exactly by another test module are not repeated here; they are listed in
``COVERED_ELSEWHERE`` (and in the closing note of issue 7).

Style transfer runs use the public random weights (``--weights random``; the CLI's plumbing
does not depend on the weights) and the shallowest layers, so each "works" case takes a fraction
of a second.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from badinput import (
    BAD_FILE_CASES,
    IMAGE_KINDS,
    assert_clean_error,
    bad_files,
    deny_access,
    hashes,
    image_kind,
    record,
    run_cli,
)
from PIL import Image
from test_poisson import oracle_blend

from helpers import assets, nst, report
from helpers.errors import UserError
from helpers.nst import vgg

STYLIZE_BAD_FILES = "tests/test_cli_stylize.py::test_bad_files_exit_2"
COVERED_ELSEWHERE = {
    "stylize:content/missing": f"{STYLIZE_BAD_FILES}[missing-file not found]",
    "stylize:content/directory": f"{STYLIZE_BAD_FILES}[directory-is a directory]",
    "stylize:content/empty": f"{STYLIZE_BAD_FILES}[empty-file is empty]",
    "stylize:content/text-as-png": f"{STYLIZE_BAD_FILES}[text-not a readable image]",
    "stylize/missing-folder": "tests/test_cli_stylize.py::test_bad_files_exit_2[outdir-...]",
    "stylize/unknown-suffix": "tests/test_cli_stylize.py::test_bad_files_exit_2[outsuffix-...]",
    "stylize/is-an-input": "tests/test_cli_stylize.py::test_bad_files_exit_2[overwrite-...]",
    "blend:source/missing": "tests/test_gdf_cli.py::test_blend_bad_inputs",
    "blend/unknown-suffix": "tests/test_gdf_cli.py::test_blend_bad_inputs",
    "blend/is-an-input": "tests/test_gdf_cli.py::test_blend_bad_inputs",
    "toy:image/missing": "tests/test_gdf_cli.py::test_toy_bad_inputs",
}


def _ids(cases):
    return [c[0] for c in cases]


# ------------------------------------------------------------------- fixtures


def smooth(h: int, w: int, seed: int) -> np.ndarray:
    """(h, w, 3) uint8: a smooth random colour image."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [
        np.sin(2 * np.pi * (rng.uniform(0.5, 2) * y + rng.uniform(0.5, 2) * x) + rng.uniform(0, 6))
        for _ in range(3)
    ]
    return ((np.stack(chans, axis=2) + 1) * 127.5).astype(np.uint8)


@pytest.fixture
def good(tmp_path) -> dict[str, Path]:
    """Small valid inputs for every command (in their own folder, apart from outputs)."""
    d = tmp_path / "in"
    d.mkdir()
    paths = {
        name: d / f"{name}.png" for name in ("content", "style", "source", "target", "mask", "toy")
    }
    Image.fromarray(smooth(12, 16, 0)).save(paths["content"])
    Image.fromarray(smooth(16, 16, 1)).save(paths["style"])
    Image.fromarray(smooth(12, 14, 2)).save(paths["source"])
    Image.fromarray(smooth(12, 14, 3)).save(paths["target"])
    mask = np.zeros((12, 14), np.uint8)
    mask[3:9, 4:11] = 255
    Image.fromarray(mask, "L").save(paths["mask"])
    Image.fromarray(smooth(10, 12, 4)[..., 0], "L").save(paths["toy"])
    return paths


def u8(path: Path) -> np.ndarray:
    """A plain 8-bit PNG decoded with Pillow alone, as float64 in [0, 1] (an oracle input)."""
    return np.asarray(Image.open(path), dtype=np.float64) / 255.0


# Shallow layers, one evaluation, tiny size, random weights: the stylize plumbing in a fraction
# of a second.  A later --weights on the command line wins (the weights rows below).
FAST = (
    "--content-layers", "conv1_1", "--style-layers", "conv1_1", "--steps", "1", "--no-progress",
    "--weights", "random",
)  # fmt: skip


def command(slot_command: str, good: dict[str, Path], out: Path, **replace: Path | str) -> list:
    """argv for ``slot_command`` with good inputs, some replaced (``content=...``, ``mask=...``)."""
    g = {**{k: str(v) for k, v in good.items()}, **{k: str(v) for k, v in replace.items()}}
    if slot_command == "stylize":
        init = ["--init", g["init"]] if "init" in g else []
        return ["stylize", g["content"], g["style"], "-o", out, "--size", "16", *FAST, *init]
    if slot_command == "blend":
        return ["blend", g["source"], g["target"], g["mask"], "-o", out]
    if slot_command == "toy":
        return ["toy", g["toy"], "-o", out]
    if slot_command in ("tile", "color2gray"):  # issue 14: one colour image
        return [slot_command, g.get("image", g["content"]), "-o", out]
    raise ValueError(slot_command)


# ------------------------------------------------------------------- files


FILE_SLOTS = [
    ("stylize", "content"),
    ("stylize", "style"),
    ("stylize", "init"),
    ("blend", "source"),
    ("blend", "target"),
    ("blend", "mask"),
    ("toy", "toy"),
    ("tile", "image"),
    ("color2gray", "image"),
]
FILE_CASES = [
    (f"{cmd}:{'image' if slot == 'toy' else slot}/{case}", cmd, slot, case)
    for cmd, slot in FILE_SLOTS
    for case in BAD_FILE_CASES
    if f"{cmd}:{'image' if slot == 'toy' else slot}/{case}" not in COVERED_ELSEWHERE
]


@pytest.mark.parametrize(("case", "cmd", "slot", "kind"), FILE_CASES, ids=_ids(FILE_CASES))
def test_bad_input_file(case, cmd, slot, kind, good, tmp_path, monkeypatch):
    """Every file argument x every broken file: one line naming the file and the problem."""
    bad, text = bad_files(tmp_path / "bad")[kind]
    if kind == "unreadable":
        deny_access(monkeypatch, bad)
    out = tmp_path / "out.png"
    before = hashes([*good.values(), bad])
    result = run_cli(*command(cmd, good, out, **{slot: bad}))
    record(case, result)
    line = assert_clean_error(result, output=out, inputs_before=before, contains=text)
    assert bad.name in line, f"the error does not name the file: {line}"


INPUT_OF = {"toy": "toy", "stylize": "content", "tile": "content", "color2gray": "content"}
"""The good input each command reads (an output path equal to it must be refused)."""

OUTPUT_CASES = [
    (f"{cmd}/{case}", cmd, case)
    for cmd in ("stylize", "blend", "toy", "tile", "color2gray")
    for case in (
        "missing-folder",
        "unwritable-folder",
        "is-a-directory",
        "unknown-suffix",
        "is-an-input",
    )
    if f"{cmd}/{case}" not in COVERED_ELSEWHERE
]


@pytest.mark.parametrize(("case", "cmd", "kind"), OUTPUT_CASES, ids=_ids(OUTPUT_CASES))
def test_bad_output_path(case, cmd, kind, good, tmp_path, monkeypatch):
    """Output checked before any work: missing or unwritable folder, a folder, a bad suffix, an
    input."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, text = {
        "missing-folder": (tmp_path / "no_such_folder" / "out.png", "does not exist"),
        "unwritable-folder": (out_dir / "out.png", "not writable"),
        "is-a-directory": (out_dir / "folder.png", "is a directory"),
        "unknown-suffix": (out_dir / "out.xyz", "unknown image suffix"),
        "is-an-input": (
            good[INPUT_OF.get(cmd, "target")],
            "is an input image",
        ),
    }[kind]
    if kind == "is-a-directory":
        out.mkdir()
    if kind == "unwritable-folder":
        out_dir.chmod(0o500)
        deny_access(monkeypatch, out_dir)  # root writes anywhere: answer as for a normal user
    before = hashes(good.values())
    result = run_cli(*command(cmd, good, out))
    record(case, result)
    assert_clean_error(
        result,
        output=None if kind in ("is-an-input", "is-a-directory") else out,
        inputs_before=before,
        contains=text,
    )
    assert sorted(p.name for p in out_dir.iterdir()) == (
        ["folder.png"] if kind == "is-a-directory" else []
    ), "something was written"


# ------------------------------------------------------------------- image kinds that must work


KIND_CASES = [
    (f"{cmd}/{kind}", cmd, kind) for cmd in ("stylize", "blend", "toy") for kind in IMAGE_KINDS
]


@pytest.mark.parametrize(("case", "cmd", "kind"), KIND_CASES, ids=_ids(KIND_CASES))
def test_image_kind_works(case, cmd, kind, good, tmp_path, monkeypatch):
    """Every image kind is decoded as displayed (EXIF orientation applied) and the command's
    result is right: checked against Pillow/NumPy decodings made independently of helpers.images."""
    k = image_kind(tmp_path / "kinds", kind)
    h, w = k.rgb.shape[:2]
    out = tmp_path / "out.png"
    before = hashes([k.path])
    if cmd == "stylize":
        seen = {}
        real = nst.stylize

        def spy(content, style, **kwargs):
            seen["content"], seen["style"] = content, style
            return real(content, style, **kwargs)

        monkeypatch.setattr(nst, "stylize", spy)
        result = run_cli("stylize", k.path, k.path, "-o", out, "--size", str(max(h, w)), *FAST)
        assert result.code == 0, result.stderr
        for what in ("content", "style"):  # what reached the loop is the picture as displayed
            assert seen[what].shape == (h, w, 3)
            np.testing.assert_allclose(seen[what], k.rgb, atol=k.atol + 1e-6)
        made = np.asarray(Image.open(out))
        assert made.shape == (h, w, 3)
    elif cmd == "blend":
        # the kind as source and target (source == target must give the target back)
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 255
        mask_path = tmp_path / "mask.png"
        Image.fromarray(mask, "L").save(mask_path)
        result = run_cli("blend", k.path, k.path, mask_path, "-o", out)
        assert result.code == 0, result.stderr
        made = np.asarray(Image.open(out), dtype=np.float64) / 255.0
        colour = (
            made[..., :3]
            if made.ndim == 3 and made.shape[2] >= 3
            else made
            if made.ndim == 2
            else made[..., 0]
        )
        expected = k.rgb if colour.ndim == 3 else k.grey
        assert colour.shape == expected.shape
        np.testing.assert_allclose(colour, expected, atol=k.atol + 1 / 255)
        if kind == "rgba":  # the target's alpha passes through
            assert Image.open(out).mode == "RGBA"
            np.testing.assert_array_equal(
                np.asarray(Image.open(out))[..., 3], np.asarray(Image.open(k.path))[..., 3]
            )
    else:
        result = run_cli("toy", k.path, "-o", out)
        assert result.code == 0, result.stderr
        made = np.asarray(Image.open(out).convert("L"), dtype=np.float64) / 255.0
        assert made.shape == (h, w)
        np.testing.assert_allclose(made, k.grey, atol=k.atol + 1 / 255)
    assert hashes([k.path]) == before
    record(case, result)


# ------------------------------------------------------------------- sizes


def _tiny(tmp_path: Path, h: int, w: int, seed: int = 0) -> Path:
    path = tmp_path / f"tiny_{h}x{w}_{seed}.png"
    Image.fromarray(smooth(h, w, seed)).save(path)
    return path


SIZE_CASES = [
    ("blend/8x8", "works"),
    ("toy/8x8", "works"),
    ("toy/2x2", "works"),
    ("stylize/8x8-image-shallow-layers", "works"),
    ("stylize/8x8-image-paper-layers", "each side needs at least 16 px"),
    ("stylize/style-size-too-small", "--style-size 16"),
]


@pytest.mark.parametrize(("case", "expect"), SIZE_CASES, ids=_ids(SIZE_CASES))
def test_very_small_images(case, expect, tmp_path):
    """8x8 works for blending and the toy problem; for style transfer the minimum follows from
    the deepest layer's poolings and is stated in the error."""
    out = tmp_path / "out.png"
    if case == "blend/8x8":
        src, tgt = _tiny(tmp_path, 8, 8, 1), _tiny(tmp_path, 8, 8, 2)
        mask = np.zeros((8, 8), np.uint8)
        mask[2:6, 1:7] = 255
        Image.fromarray(mask, "L").save(mpath := tmp_path / "m.png")
        result = run_cli("blend", src, tgt, mpath, "-o", out)
        assert result.code == 0, result.stderr
        want = np.clip(oracle_blend(u8(src), u8(tgt), mask > 127), 0, 1)
        np.testing.assert_allclose(u8(out), want, atol=1 / 255)
    elif case.startswith("toy/"):
        n = int(case.split("/")[1].split("x")[0])
        img = tmp_path / "g.png"
        Image.fromarray(smooth(n, n, 3)[..., 1], "L").save(img)
        result = run_cli("toy", img, "-o", out)
        assert result.code == 0, result.stderr
        np.testing.assert_allclose(u8(out), u8(img), atol=1 / 255)
    else:
        content, style = _tiny(tmp_path, 8, 8, 1), _tiny(tmp_path, 8, 8, 2)
        before = hashes([content, style])
        if case.endswith("shallow-layers"):  # conv1_1 sees every pixel: no minimum beyond 1 px
            result = run_cli("stylize", content, style, "-o", out, "--size", "8", *FAST)
            assert result.code == 0, result.stderr
            assert np.asarray(Image.open(out)).shape == (8, 8, 3)
        elif case.endswith("paper-layers"):
            result = run_cli(
                "stylize",
                content,
                style,
                "-o",
                out,
                "--size",
                "8",
                "--steps",
                "1",
                "--no-progress",
                "--weights",
                "random",
            )
            line = assert_clean_error(result, output=out, inputs_before=before, contains=expect)
            assert "relu5_1" in line and "--size 16" in line
        else:
            result = run_cli(
                "stylize",
                content,
                style,
                "-o",
                out,
                "--size",
                "16",
                "--style-size",
                "8",
                "--steps",
                "1",
                "--no-progress",
                "--weights",
                "random",
            )
            assert_clean_error(
                result, output=out, inputs_before=before, contains=("style image size 8x8", expect)
            )
    record(case, result)


# ------------------------------------------------------------------- blending geometry


def _png(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(arr, mode).save(path)
    return path


BLEND_CASES = [
    "mask-touching-every-border",
    "mask-with-hole-and-island",
    "anti-aliased-mask",
    "mask-saved-as-rgb",
    "offset-partly-outside-top-left",
    "offset-partly-outside-bottom-right",
    "grey-source-colour-target",
    "offset-wholly-outside-negative",
    "alpha-mask-empty",
    "mask-grey-alpha-source",
    "offset-not-a-whole-number",
    "offset-one-value",
]


@pytest.mark.parametrize("case", BLEND_CASES)
def test_blend_geometry(case, tmp_path):
    """Masks and offsets: border-touching, holes, anti-aliasing (threshold 0.5), placement and
    cropping work and match the loop-assembled spsolve oracle; impossible placements are refused."""
    h, w = 14, 18
    src_u8, tgt_u8 = smooth(h, w, 5), smooth(h, w, 6)
    src, tgt = _png(tmp_path / "src.png", src_u8), _png(tmp_path / "tgt.png", tgt_u8)
    out = tmp_path / "out.png"
    mask = np.zeros((h, w), np.uint8)
    mask[4:10, 5:13] = 255
    offset: tuple[int, int] = (0, 0)
    extra: list[str] = []
    source_arr = u8(src)
    region = None
    if case == "mask-touching-every-border":  # a cross from edge to edge: Neumann on four sides
        mask[:] = 0
        mask[5:9, :] = 255
        mask[:, 7:11] = 255
    elif case == "mask-with-hole-and-island":
        mask[6:8, 8:10] = 0
        mask[0:2, 0:3] = 255
    elif case == "anti-aliased-mask":  # rings at 127 (out) and 128 (in) around the solid square
        mask[3:11, 4:14] = 127
        mask[4:10, 5:13] = 128
        mask[5:9, 6:12] = 255
    elif case.startswith("offset-partly-outside"):
        offset = (-5, -7) if case.endswith("top-left") else (6, 8)
    elif case == "offset-wholly-outside-negative":
        offset = (-20, 0)
    elif case == "grey-source-colour-target":
        src = _png(tmp_path / "src_grey.png", src_u8[..., 0], "L")
        source_arr = u8(src)
    elif case == "mask-grey-alpha-source":  # no MASK: the alpha channel of a grey+alpha source
        la = Image.merge("LA", [Image.fromarray(src_u8[..., 0], "L"), Image.fromarray(mask, "L")])
        src = tmp_path / "src_la.png"
        la.save(src)
        source_arr = u8(src)[..., 0]
    elif case == "alpha-mask-empty":
        src = _png(
            tmp_path / "src_rgba.png", np.dstack([src_u8, np.zeros((h, w), np.uint8)]), "RGBA"
        )
    mask_path = _png(
        tmp_path / "mask.png",
        np.repeat(mask[..., None], 3, 2) if case == "mask-saved-as-rgb" else mask,
    )
    before = hashes([src, tgt, mask_path])
    use_mask = [] if case in ("alpha-mask-empty", "mask-grey-alpha-source") else [mask_path]
    if case == "offset-not-a-whole-number":
        extra = ["--offset", "1.5", "2"]
    elif case == "offset-one-value":
        extra = ["--offset", "3"]
    elif offset != (0, 0):
        extra = ["--offset", *map(str, offset)]
    result = run_cli("blend", src, tgt, *use_mask, "-o", out, *extra)
    record(f"blend/{case}", result)
    if case == "offset-wholly-outside-negative":
        assert_clean_error(
            result, output=out, inputs_before=before, contains=("(-20, 0)", "entirely outside")
        )
        return
    if case == "alpha-mask-empty":
        assert_clean_error(
            result, output=out, inputs_before=before, contains=("alpha channel", src.name, "empty")
        )
        return
    if case.startswith("offset-not") or case == "offset-one-value":
        assert_clean_error(result, output=out, inputs_before=before, contains="--offset")
        return
    assert result.code == 0, result.stderr
    region = mask > 127.5  # the documented threshold: above 0.5 is in
    want = np.clip(oracle_blend(source_arr, u8(tgt), region, offset=offset), 0, 1)
    made = u8(out)
    np.testing.assert_allclose(made, want, atol=1 / 255)
    unknowns = int(re.search(r"([\d,]+) unknowns", result.stdout).group(1).replace(",", ""))
    placed = np.zeros((h, w), bool)
    ys, xs = np.nonzero(region)
    ys, xs = ys + offset[0], xs + offset[1]
    keep = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    placed[ys[keep], xs[keep]] = True
    assert unknowns == placed.sum()
    np.testing.assert_array_equal(made[~placed], u8(tgt)[~placed])  # outside: the target, exactly
    if case == "anti-aliased-mask":
        assert not placed[mask == 127].any() and placed[mask == 128].all()
    if case.startswith("offset-partly"):
        assert "cropped" in result.stdout
    assert hashes(before) == before


# ------------------------------------------------------------------- style-transfer settings


STYLIZE_CASES = [
    (
        "unknown-content-layer",
        ["--content-layers", "conv9_9"],
        ("unknown content layer", "conv9_9", "conv5_4"),
    ),
    (
        "layer-weight-not-a-number",
        ["--style-layers", "conv1_1:x"],
        ("'x'", "conv1_1", "name:weight"),
    ),
    ("layer-listed-twice", ["--style-layers", "conv1_1,conv1_1"], "listed twice"),
    ("no-style-layers", ["--style-layers", ","], "no style layers given"),
    ("empty-style-layers", ["--style-layers", ""], "no style layers given"),
    ("size-negative", ["--size", "-5"], ("size '-5'", "must be positive")),
    ("size-malformed", ["--size", "10x"], ("size '10x'", "WxH")),
    ("style-size-zero", ["--style-size", "0"], ("size '0'", "must be positive")),
    ("steps-not-whole", ["--steps", "1.5"], ("--steps", "invalid int")),
    ("adam-lr-zero", ["--optimizer", "adam", "--lr", "0"], "lr must be a positive number"),
    ("adam-lr-nan", ["--optimizer", "adam", "--lr", "nan"], "lr must be a positive number"),
    ("ratio-negative", ["--ratio", "-1"], "ratio (alpha/beta) must be finite and >= 0"),
    ("ratio-nan", ["--ratio", "nan"], "ratio (alpha/beta) must be finite and >= 0"),
    ("tv-weight-negative", ["--tv-weight", "-1"], "tv_weight must be finite and >= 0"),
    ("device-unknown", ["--device", "tpu"], ("'tpu'", "auto, cpu or cuda")),
    (
        "init-unknown-word",
        ["--init", "nosie"],
        ("--init nosie", "content, noise, style", "image path"),
    ),
    ("init-missing-file", ["--init", "missing.png"], ("--init missing.png", "not found")),
    ("memory-too-large", ["--size", "3000"], ("needs about", "GiB", "--size")),
    (
        "weights-corrupt",
        ["--weights", "corrupt.pth"],
        ("corrupt.pth", "corrupt", "python -m helpers weights"),
    ),
    (
        "weights-checksum-mismatch",
        ["--weights", "wrong.pth"],
        ("wrong.pth", "checksum mismatch", "python -m helpers weights"),
    ),
    (
        "weights-not-the-h5",
        ["--weights", "fake.h5"],
        ("fake.h5", "checksum mismatch", "python -m helpers weights"),
    ),
    ("ratio-zero-works", ["--ratio", "0"], None),
    ("layer-weights-any-sum-work", ["--style-layers", "conv1_1:2,conv1_2:6"], None),
]


@pytest.mark.parametrize(("case", "extra", "contains"), STYLIZE_CASES, ids=_ids(STYLIZE_CASES))
def test_stylize_settings(case, extra, contains, good, tmp_path, monkeypatch):
    """Settings not already in tests/test_cli_stylize.py: each refused with the parameter named,
    or (last rows) accepted as documented."""
    monkeypatch.chdir(tmp_path)
    torch.save({"0.weight": torch.zeros(2)}, tmp_path / "wrong.pth")
    (tmp_path / "corrupt.pth").write_bytes(np.random.default_rng(0).bytes(4000))
    (tmp_path / "fake.h5").write_text("not hdf5\n")
    if case == "memory-too-large":
        monkeypatch.setattr(nst.memory, "available_memory", lambda device: 300 * 2**20)
        from helpers import images

        real_resize = images.resize

        def resize(img, size):  # the refusal must come before any big array is made
            assert np.prod(images.target_shape(img.shape[:2], size)) < 1_000_000, (
                "resized before the memory check"
            )
            return real_resize(img, size)

        monkeypatch.setattr(images, "resize", resize)
    out = tmp_path / "out.png"
    before = hashes(good.values())
    argv = [
        "stylize",
        good["content"],
        good["style"],
        "-o",
        out,
        "--size",
        "16",
        *FAST,
        *extra,
    ]  # extra overrides FAST
    result = run_cli(*argv)
    record(f"stylize/{case}", result)
    if contains is None:
        assert result.code == 0, result.stderr
        assert np.asarray(Image.open(out)).shape == (12, 16, 3)
        return
    line = assert_clean_error(result, output=out, inputs_before=before, contains=contains)
    if case == "memory-too-large":
        suggested = int(re.search(r"--size (\d+)", line).group(1))
        assert 16 <= suggested < 3000


# ------------------------------------------------------------------- style controls (issue 13)


CONTROL_CASES = [  # (case, extra options, text the error line must contain; None: it works)
    ("blend-count-mismatch", ["--style-blend", "1,2,3"], ("--style-blend", "3 weight(s)", "2")),
    ("blend-not-a-number", ["--style-blend", "1,x"], ("--style-blend", "'1,x'")),
    ("blend-all-zero", ["--style-blend", "0,0"], "all blend weights are zero"),
    ("blend-negative", ["--style-blend", "1,-1"], "must be finite and >= 0"),
    ("mask-count", ["--style-mask", "top.png"], ("1 style mask(s)", "2 style image(s)")),
    (
        "mask-empty",
        ["--style-mask", "top.png", "--style-mask", "black.png"],
        ("black.png", "is empty"),
    ),
    (
        "mask-gap",
        ["--style-mask", "top.png", "--style-mask", "top.png"],
        ("have no style", "x 0-15"),
    ),
    (
        "mask-missing",
        ["--style-mask", "top.png", "--style-mask", "nowhere.png"],
        ("nowhere.png", "not found"),
    ),
    ("scales-not-increasing", ["--scales", "24,16"], ("24,16", "must increase")),
    ("scales-with-size", ["--scales", "16,24", "--size", "16"], ("--size", "--scales")),
    (
        "scales-steps-count",
        ["--scales", "16,24", "--steps", "1,1,1"],
        ("3 step counts for 2 scales",),
    ),
    ("steps-list-without-scales", ["--steps", "1,1"], ("--steps", "no --scales")),
    ("preserve-colors-unknown", ["--preserve-colors", "hue"], ("--preserve-colors", "'hue'")),
    (
        "mask-other-size-works",
        ["--style-mask", "top_small.png", "--style-mask", "bottom.png"],
        None,
    ),
    (
        "every-control-works",
        [
            "--style-blend",
            "3,1",
            "--preserve-colors",
            "luminance",
            "--scales",
            "16,24",
            "--steps",
            "1,1",
        ],
        None,
    ),
]


@pytest.mark.parametrize(("case", "extra", "contains"), CONTROL_CASES, ids=_ids(CONTROL_CASES))
def test_stylize_controls(case, extra, contains, good, tmp_path, monkeypatch):
    """Two styles with the controls' options: each bad setting is one clean error line before
    any work; a mask of another size is resized with a note."""
    monkeypatch.chdir(tmp_path)
    top = np.zeros((12, 16), np.uint8)
    top[:6] = 255
    Image.fromarray(top, "L").save(tmp_path / "top.png")
    Image.fromarray(255 - top, "L").save(tmp_path / "bottom.png")
    Image.fromarray(top[::2, ::2], "L").save(tmp_path / "top_small.png")
    Image.fromarray(np.zeros_like(top), "L").save(tmp_path / "black.png")
    out = tmp_path / "out.png"
    before = hashes([*good.values(), tmp_path / "top.png", tmp_path / "bottom.png"])
    size = [] if "--scales" in extra else ["--size", "16"]
    argv = [
        "stylize",
        good["content"],
        good["style"],
        good["source"],
        "-o",
        out,
        *size,
        *FAST,
        *extra,
    ]
    result = run_cli(*argv)
    record(f"stylize/{case}", result)
    if contains is None:
        assert result.code == 0, result.stderr
        assert np.asarray(Image.open(out)).shape[:2] in ((12, 16), (18, 24))
        if case == "mask-other-size-works":
            assert "top_small.png is 8x6; resized to the 16x12 output" in result.stdout
        return
    assert_clean_error(result, output=out, inputs_before=before, contains=contains)


# ------------------------------------------------------------------- weights, assets, report


@pytest.mark.parametrize(
    "case", ["missing", "corrupt", "checksum-mismatch", "not-a-state-dict", "fake-h5", "directory"]
)
def test_weights_command(case, tmp_path):
    """``weights --weights FILE`` for a bad file: what is wrong and how to re-fetch."""
    path = {
        "missing": tmp_path / "nope.pth",
        "corrupt": tmp_path / "corrupt.pth",
        "checksum-mismatch": tmp_path / "wrong.pth",
        "not-a-state-dict": tmp_path / "list.pth",
        "fake-h5": tmp_path / "fake.h5",
        "directory": tmp_path,
    }[case]
    (tmp_path / "corrupt.pth").write_bytes(np.random.default_rng(0).bytes(4000))
    torch.save({"0.weight": torch.zeros(2)}, tmp_path / "wrong.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    (tmp_path / "fake.h5").write_text("not hdf5\n")
    before = hashes(tmp_path.iterdir())
    result = run_cli("weights", "--weights", path)
    record(f"weights/{case}", result)
    hint = (
        "pass an existing file" if case in ("missing", "directory") else "python -m helpers weights"
    )
    assert_clean_error(result, output=None, inputs_before=before, contains=(str(path), hint))


def _asset_manifest(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, Path]:
    """A mirror laid out by URL path holding ``files``, and a manifest pinning them."""
    import hashlib

    mirror = tmp_path / "mirror"
    lines = []
    for name, data in files.items():
        url = f"https://github.com/o/r/raw/{'0' * 40}/{name}"
        (mirror / url[8:]).parent.mkdir(parents=True, exist_ok=True)
        (mirror / url[8:]).write_bytes(data)
        lines += [
            "[[asset]]",
            f'path = "{name}"',
            f'url = "{url}"',
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"',
            "",
        ]
    manifest = tmp_path / "assets.toml"
    manifest.write_text("\n".join(lines))
    return manifest, mirror


def _mirrored(mirror: Path, name: str) -> Path:
    return mirror / f"github.com/o/r/raw/{'0' * 40}/{name}"


ASSET_CASES = [
    "mirror-not-a-folder",
    "mirror-missing-a-file",
    "mirror-wrong-checksum",
    "local-copy-corrupt",
    "verify-missing",
]


@pytest.mark.parametrize("case", ASSET_CASES)
def test_assets_command(case, tmp_path, monkeypatch):
    """``assets`` through the CLI (the function-level cases live in tests/test_assets.py): the
    file is named, nothing partial is left, the hint says how to fetch."""
    manifest, mirror = _asset_manifest(tmp_path, {"nst/a.jpg": b"aaa", "gdf/b/mask.png": b"bbb"})
    real = assets.load_manifest
    monkeypatch.setattr(assets, "load_manifest", lambda *_a, **_k: real(manifest))
    data = tmp_path / "data"
    monkeypatch.setenv("HELPERS_DATA", str(data))
    monkeypatch.delenv("ASSETS_MIRROR", raising=False)
    args = ["assets", "--mirror", mirror]
    if case == "mirror-not-a-folder":
        args = ["assets", "--mirror", tmp_path / "nothere"]
        contains = ("nothere", "is not a folder")
    elif case == "mirror-missing-a-file":
        _mirrored(mirror, "gdf/b/mask.png").unlink()
        contains = ("gdf/b/mask.png", "not in the mirror", "--mirror")
    elif case == "mirror-wrong-checksum":
        _mirrored(mirror, "nst/a.jpg").write_bytes(b"tampered")
        contains = ("nst/a.jpg", "sha256 mismatch", "--mirror")
    elif case == "local-copy-corrupt":
        (data / "nst").mkdir(parents=True)
        (data / "nst/a.jpg").write_bytes(b"changed")
        contains = ("a.jpg", "sha256 mismatch", "delete it")
    else:
        args = ["assets", "--verify"]
        contains = ("2 sample image(s) missing or corrupt", "--mirror")
    before = hashes([p for p in tmp_path.rglob("*") if p.is_file()])
    result = run_cli(*args)
    record(f"assets/{case}", result)
    assert_clean_error(result, output=None, inputs_before=before, contains=contains)
    leftover = (
        sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
        if data.exists()
        else []
    )
    # all or nothing: no temporary, nothing fetched; a corrupt local copy is left as it was
    assert leftover == {"local-copy-corrupt": ["nst/a.jpg"]}.get(case, []), leftover


REPORT_CASES = [
    ("profile-unknown", ["--profile", "fast"], ("--profile", "'fast'", "auto")),
    ("check-missing-folder", ["--check", "{tmp}/noref"], ("noref", "does not exist", "--record")),
    (
        "check-missing-folder-no-run",
        ["--no-run", "--check", "{tmp}/noref"],
        ("noref", "does not exist"),
    ),
    (
        "record-without-outputs",
        ["--no-run", "--record", "{tmp}/ref"],
        ("metrics.json is missing", "run the notebook first"),
    ),
    ("notebooks-missing-folder", ["--notebooks", "{tmp}/nope"], ("--notebooks", "not a folder")),
    (
        "notebooks-empty-folder",
        ["--notebooks", "{tmp}/empty"],
        ("no notebooks matching", "--notebooks"),
    ),
    ("configs-missing-folder", ["--configs", "{tmp}/nope"], ("--configs", "not a folder")),
    ("only-nothing", ["--only", ","], ("--only", "name at least one")),
    ("only-unknown-word", ["--only", "abc"], ("--only abc", "choose from")),
    ("timeout-negative", ["--timeout", "-1"], ("--timeout -1", "positive")),
    (
        "unknown-option",
        ["--frobnicate"],
        ("unrecognized arguments: --frobnicate", "`python -m helpers --help`"),
    ),
]


@pytest.mark.parametrize(("case", "args", "contains"), REPORT_CASES, ids=_ids(REPORT_CASES))
def test_report_command(case, args, contains, tmp_path, monkeypatch):
    """``report`` refuses bad settings before running any notebook (running them would take
    minutes)."""
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "empty").mkdir()

    def no_run(*_a, **_k):
        raise AssertionError("bad input must be refused before any notebook runs")

    monkeypatch.setattr(report, "run_series", no_run)
    result = run_cli("report", *(a.format(tmp=tmp_path) for a in args))
    record(f"report/{case}", result)
    assert_clean_error(result, output=None, inputs_before={}, contains=contains)
    assert not (tmp_path / "ref").exists()


# ------------------------------------------------------------------- public functions


def _public_cases():
    from helpers import gdf, images, runtime
    from helpers.notebook import NotebookRun

    ok = np.zeros((6, 6, 3), np.float32)
    return [
        (
            "runtime.get_device/cuda",
            lambda p: (
                runtime.get_device("cuda") if not torch.cuda.is_available() else pytest.skip("GPU")
            ),
            "no CUDA GPU",
        ),
        (
            "runtime.get_device/unknown",
            lambda p: runtime.get_device("npu"),
            "use auto, cpu or cuda",
        ),
        (
            "runtime.check_writable/missing-folder",
            lambda p: runtime.check_writable(p / "a" / "b.png"),
            "does not exist",
        ),
        ("runtime.check_writable/directory", lambda p: runtime.check_writable(p), "is a directory"),
        (
            "NotebookRun/cuda",
            lambda p: (
                NotebookRun("x-cuda", device="cuda")
                if not torch.cuda.is_available()
                else pytest.skip("GPU")
            ),
            "no CUDA GPU",
        ),
        (
            "images.save_image/unknown-suffix",
            lambda p: images.save_image(p / "o.gif", ok),
            "unknown image suffix",
        ),
        (
            "images.save_image/inf",
            lambda p: images.save_image(p / "o.png", ok + np.inf),
            "NaN or infinite",
        ),
        ("images.load_image/unreadable", None, "permission denied"),
        (
            "assets.asset_path/unknown",
            lambda p: assets.asset_path("nst/nothing.jpg"),
            "unknown asset",
        ),
        (
            "vgg.VGGFeatures/no-layers",
            lambda p: vgg.VGGFeatures([], state_dict={}),
            "no layers requested",
        ),
        (
            "nst.stylize/missing-path",
            lambda p: nst.stylize(str(p / "no.png"), ok, steps=1, progress=False),
            "file not found",
        ),
        (
            "nst.stylize/nan-image",
            lambda p: nst.stylize(ok * np.nan, ok, steps=1, progress=False),
            "NaN or infinite",
        ),
        (
            "nst.stylize/wrong-shape",
            lambda p: nst.stylize(np.zeros((4, 4, 5), np.float32), ok, steps=1, progress=False),
            "expected (H, W, 3)",
        ),
        (
            "gdf.blend/empty-source",
            lambda p: gdf.blend(np.zeros((0, 4)), np.zeros((4, 4)), np.zeros((0, 4), bool)),
            "got shape",
        ),
        ("gdf.blend/mask-3d", lambda p: gdf.blend(ok, ok, ok), "single-channel"),
    ]


PUBLIC = _public_cases()


@pytest.mark.parametrize(("case", "call", "contains"), PUBLIC, ids=_ids(PUBLIC))
def test_public_function_bad_input(case, call, contains, tmp_path, monkeypatch):
    """The helpers' public functions raise one-line UserErrors too (notebooks show them as is),
    and leave nothing behind."""
    monkeypatch.setenv("HELPERS_OUTPUTS", str(tmp_path / "outputs"))
    if call is None:  # load_image on a mode-000 file, for root as for everyone
        from helpers import images

        path, _ = bad_files(tmp_path / "bad")["unreadable"]
        deny_access(monkeypatch, path)
        call = lambda p: images.load_image(path)  # noqa: E731
    with pytest.raises(UserError) as info:
        call(tmp_path)
    message = str(info.value)
    assert "\n" not in message and contains.lower() in message.lower(), message
    record(case, "error: " + message)
    assert not (tmp_path / "outputs" / "x-cuda").exists(), (
        "a refused NotebookRun created its output folder"
    )


# ------------------------------------------------------------------- real processes


PROCESS_CASES = [
    ("stylize-truncated-content", "not traceback"),
    ("blend-text-as-mask", "not traceback"),
    ("toy-directory", "not traceback"),
    ("report-unknown-profile", "not traceback"),
]


@pytest.mark.parametrize(("case", "_"), PROCESS_CASES, ids=_ids(PROCESS_CASES))
def test_real_process_has_no_traceback(case, _, good, tmp_path):
    """A handful of rows as real `python -m helpers` processes: the exit status and stderr the
    user sees (the in-process rows above cannot show an interpreter-level traceback)."""
    files = bad_files(tmp_path / "bad")
    out = tmp_path / "out.png"
    if case == "stylize-truncated-content":
        args = ["stylize", files["truncated-jpg"][0], good["style"], "-o", out, "--size", "16"]
        contains = ("truncated.jpg", "damaged or truncated")
    elif case == "blend-text-as-mask":
        args = ["blend", good["source"], good["target"], files["text-as-png"][0], "-o", out]
        contains = ("text.png", "not a readable image")
    elif case == "toy-directory":
        args = ["toy", files["directory"][0], "-o", out]
        contains = ("a_directory.png", "is a directory")
    else:
        args = ["report", "--profile", "fast"]
        contains = ("invalid choice: 'fast'",)
    before = hashes([*good.values(), *(p for p, _ in files.values())])
    result = run_cli(*args, subprocess_=True, timeout=120)
    record(f"process/{case}", result)
    assert_clean_error(result, output=out, inputs_before=before, contains=contains)
