"""The ipywidgets panels of the notebooks (presentation layer).

Each panel builds its controls, runs a small job of a method package (on "Run" for style
transfer, on every change for blending) and shows the result as a PNG in an
``ipywidgets.Image`` with a one-line status under it.  The returned ``VBox`` also carries
``panel.controls`` (name -> widget), ``panel.preview`` (the Image) and ``panel.status`` (the
Label), so a test or a notebook can set the controls and read the result programmatically,
without a browser.  ipywidgets, IPython and the method packages are imported only when a panel
is built, so importing this module stays cheap.

Turn a panel on with ``INTERACTIVE = True`` in a notebook's parameters cell (papermill and
nbval runs leave it off: a panel needs a live kernel).
"""

from __future__ import annotations

import struct
import threading
import time
import traceback
import zlib

import numpy as np

OFF_MESSAGE = (
    "interactive panel off: to use it, run `make lab`, open this notebook, set INTERACTIVE = True "
    "in its parameters cell and run all cells"
)
PREVIEW_WIDTH = 320
"""Display width of a panel's preview in pixels (small previews are scaled up)."""
PREVIEW_SIZE = 128
"""Longer side of :func:`preview_panel`'s style-transfer preview in pixels."""
PREVIEW_STEPS = 20
"""Function evaluations of a preview run by default: at 128 px on a 2-core CPU (~0.08 s each)
the result shows about 2 s after "Run" (the steps slider goes to 500)."""
STATUS_INTERVAL = 0.2
"""Seconds between two progress lines of a running preview."""


def png_bytes(image) -> bytes:
    """An ``(H, W, 3)`` float image in [0, 1] as PNG bytes (what an ``ipywidgets.Image``
    shows)."""
    from .images import to_uint8

    return _PngRows(to_uint8(image)).encode()


class _PngRows:
    """Lossless 8-bit PNGs of images that differ from a fixed ``base`` only in a band of rows.

    Only the blocks of rows that the band touches are compressed again.  Each block is a raw
    deflate piece ended by a full flush (which resets the compressor's window), so the pieces
    join into one valid zlib stream, as in parallel gzip; PNG's "Sub" filter keeps each row's
    bytes independent of the other rows.  zlib level 1: a whole 1024x768 image takes ~25 ms
    instead of Pillow's ~340 ms (level 6), for a file ~10% larger.

    ``base``: ``(H, W)`` or ``(H, W, C)`` uint8, C in 1-4.
    """

    BLOCK = 16  # rows per piece
    _COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, +alpha, RGB, RGBA)

    def __init__(self, base: np.ndarray) -> None:
        self.base = np.ascontiguousarray(base, dtype=np.uint8)
        self.shape = self.base.shape
        rows = range(0, self.shape[0], self.BLOCK)
        self._raw = [self._filtered(self.base[y : y + self.BLOCK]) for y in rows]
        self._packed = [self._deflate(raw) for raw in self._raw]

    def encode(self, band: np.ndarray | None = None, y0: int = 0) -> bytes:
        """The PNG of ``base`` with rows ``y0 : y0 + len(band)`` replaced by ``band`` (uint8,
        the base's width and channels)."""
        raw, packed = list(self._raw), list(self._packed)
        if band is not None and len(band):
            y1 = y0 + len(band)
            for k in range(y0 // self.BLOCK, -(-y1 // self.BLOCK)):
                lo, hi = k * self.BLOCK, min(self.shape[0], (k + 1) * self.BLOCK)
                a, b = max(lo, y0), min(hi, y1)  # the band's rows in this block
                rows = self.base[lo:hi].copy()
                rows[a - lo : b - lo] = band[a - y0 : b - y0]
                raw[k] = self._filtered(rows)
                packed[k] = self._deflate(raw[k])
        checksum = 1
        for piece in raw:
            checksum = zlib.adler32(piece, checksum)
        last = zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # the final block
        stream = b"\x78\x01" + b"".join(packed) + last + struct.pack(">I", checksum)
        h, w = self.shape[:2]
        channels = 1 if self.base.ndim == 2 else self.shape[2]
        header = struct.pack(">IIBBBBB", w, h, 8, self._COLOR_TYPE[channels], 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", stream)
            + _chunk(b"IEND", b"")
        )

    @staticmethod
    def _filtered(rows: np.ndarray) -> bytes:
        """PNG scanlines of ``rows``: filter type 1 ("Sub", the byte one pixel to the left
        subtracted) and its filter byte in front of each row."""
        n = rows.shape[0]
        step = 1 if rows.ndim == 2 else rows.shape[2]
        flat = rows.reshape(n, -1)
        out = np.empty((n, flat.shape[1] + 1), dtype=np.uint8)
        out[:, 0] = 1
        out[:, 1 : 1 + step] = flat[:, :step]
        np.subtract(flat[:, step:], flat[:, :-step], out=out[:, 1 + step :])
        return out.tobytes()

    @staticmethod
    def _deflate(raw: bytes) -> bytes:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
        return compressor.compress(raw) + compressor.flush(zlib.Z_FULL_FLUSH)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _preview_widgets(width: int):
    import ipywidgets as widgets

    preview = widgets.Image(
        format="png", layout=widgets.Layout(width=f"{width}px", max_width="100%")
    )
    preview.add_class("helpers-panel-preview")
    status = widgets.Label(value="")
    status.add_class("helpers-panel-status")
    errors = widgets.Output()
    return preview, status, errors


class _LatestOnly:
    """Runs ``work(request, stale)`` in one background thread, for the newest request only.

    A request made while a run is going replaces any request not started yet and makes the
    running one's ``stale()`` return True, so the run can end early (the style-transfer loop
    ends when its callback returns True); presses never queue up.  ``wait()`` blocks until
    nothing is running or pending (tests, scripts).
    """

    def __init__(self, work) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._pending = None
        self._latest = 0
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, request) -> None:
        with self._lock:
            self._latest += 1
            self._pending = (self._latest, request)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="panel-run", daemon=True)
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """True once idle; False when ``timeout`` seconds passed first."""
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._thread = None
                    self._idle.set()
                    return
                number, request = self._pending
                self._pending = None
            try:
                self._work(request, lambda number=number: self._latest != number)
            except Exception:  # work shows its own errors; this thread must not die of one
                traceback.print_exc()


def preview_panel(
    content,
    style,
    *,
    enabled: bool = True,
    size: int = PREVIEW_SIZE,
    steps: int = PREVIEW_STEPS,
    ratio: float | None = None,
    mode: str = "stylize",
    **options,
):
    """An ipywidgets panel (alpha/beta, style-layer weights, steps, init) rerunning a small
    style-transfer preview with :mod:`helpers.nst` when "Run" is pressed.

    ``content``, ``style``: images (arrays, paths or sample asset names; ``None`` where the mode
    needs none).  ``size``: the preview's longer side in pixels.  ``ratio``: the alpha/beta
    slider's start (default :data:`helpers.nst.DEFAULT_RATIO`).  ``mode``: ``"stylize"``,
    ``"content"`` (reconstruction) or ``"style"`` (texture synthesis).  ``options`` go to the
    runs (e.g. ``device``, ``weights``).  Returns the widget (display it in a notebook); its
    ``controls`` are ``"ratio"`` (log10 alpha/beta), one slider per style layer (named as in
    :data:`helpers.nst.vgg.STYLE_LAYERS`), ``"content_layer"``, ``"steps"``, ``"init"``,
    ``"optimizer"`` and ``"run"`` (the button; ``panel.controls["run"].click()`` runs it).
    With ``enabled=False`` (headless runs) it builds nothing and returns None.

    A run goes in a background thread; its status line shows its progress.  Pressing "Run"
    again while one goes stops that run at its next evaluation and starts the new one (never a
    backlog).  ``panel.wait()`` blocks until no run is left; ``panel.runs`` lists the finished
    runs as ``(TransferResult, shown)``; ``panel.result`` is the one shown.
    """
    if not enabled:
        print(OFF_MESSAGE)
        return None

    import ipywidgets as widgets

    from . import nst
    from .errors import UserError
    from .nst import vgg

    controls = _preview_controls(nst.DEFAULT_RATIO if ratio is None else ratio, steps, mode)
    preview, status, errors = _preview_widgets(PREVIEW_WIDTH)

    def work(request: tuple[float, dict], stale) -> None:
        start, settings = request  # the press's time and the controls at that moment
        shown_at = [0.0]

        def progress(p) -> None:  # a helpers.nst.Progress after every evaluation
            now = time.perf_counter()
            if stale() or (now - shown_at[0] < STATUS_INTERVAL and not p.done):
                return
            shown_at[0] = now
            loss = "" if p.loss is None else f", loss {p.loss:.4g}"
            status.value = (
                f"running: evaluation {p.evaluation}/{p.steps}{loss}, {now - start:.1f} s"
            )

        try:
            res = _preview_run(
                mode,
                content,
                style,
                size=size,
                callback=lambda _step: stale(),  # True ends the run: a newer press is waiting
                progress=progress,
                **settings,
                **options,
            )
        except UserError as exc:
            if not stale():
                status.value = ""
                errors.append_stdout(f"error: {exc}\n")
            return
        except Exception:  # shown in the panel: a thread's exception would go unseen
            status.value = ""
            errors.append_stderr(traceback.format_exc())
            return
        shown = not stale()
        panel.runs.append((res, shown))
        if shown:
            preview.value = png_bytes(res.images[0])
            status.value = f"{res.summary()}; shown {time.perf_counter() - start:.1f} s after Run"
            panel.result = res

    runner = _LatestOnly(work)

    def on_click(_=None):
        errors.clear_output()
        status.value = "starting ..."
        runner.submit((time.perf_counter(), _preview_settings(controls, vgg.STYLE_LAYERS)))

    controls["run"].on_click(on_click)
    shown = _shown_controls(controls, mode, vgg.STYLE_LAYERS)
    panel = widgets.VBox([*shown, preview, status, errors])
    panel.controls, panel.preview, panel.status = controls, preview, status
    panel.wait, panel.runs, panel.result = runner.wait, [], None
    return panel


def _preview_settings(controls: dict, style_layers) -> dict:
    """The run settings the controls hold at this moment (one press of "Run")."""
    return {
        "ratio": 10 ** controls["ratio"].value,
        "content_layer": controls["content_layer"].value,
        "style_layers": {name: controls[name].value for name in style_layers},
        "init": controls["init"].value,
        "steps": controls["steps"].value,
        "optimizer": controls["optimizer"].value,
    }


def _shown_controls(controls: dict, mode: str, style_layers) -> list:
    """The controls a ``mode`` uses, in display order."""
    shown = [controls["ratio"]] if mode == "stylize" else []
    shown += [controls[name] for name in style_layers] if mode != "content" else []
    shown += [controls["content_layer"]] if mode != "style" else []
    return shown + [controls[k] for k in ("steps", "init", "optimizer", "run")]


def _preview_controls(ratio: float, steps: int, mode: str) -> dict:
    """The widgets of :func:`preview_panel`, by name."""
    import math

    import ipywidgets as widgets

    from . import nst
    from .nst import vgg

    return {
        "ratio": widgets.FloatSlider(
            value=math.log10(ratio), min=-12, max=2, step=0.5, description="log10 α/β"
        ),
        **{
            name: widgets.FloatSlider(value=0.2, min=0, max=1, step=0.05, description=name)
            for name in vgg.STYLE_LAYERS
        },
        "content_layer": widgets.Dropdown(
            options=[n for n in vgg.LAYER_NAMES if n.startswith(("relu", "conv"))],
            value=vgg.CONTENT_LAYER_PAPER,
            description="content",
        ),
        "steps": widgets.IntSlider(value=steps, min=5, max=500, step=5, description="steps"),
        "init": widgets.Dropdown(
            options=["content", "noise"] if mode == "stylize" else ["noise"], description="init"
        ),
        "optimizer": widgets.Dropdown(options=list(nst.OPTIMIZERS), description="optimizer"),
        "run": widgets.Button(description="Run", button_style="primary"),
    }


def _preview_run(mode, content, style, *, ratio, content_layer, style_layers, init, **common):
    """The one run behind :func:`preview_panel`'s "Run" button."""
    from . import nst

    if mode == "content":
        return nst.reconstruct_content(content, content_layer, init=init, **common)
    if mode == "style":
        return nst.reconstruct_style(style, style_layers, init=init, **common)
    return nst.stylize(
        content,
        style,
        ratio=ratio,
        content_layers=content_layer,
        style_layers=style_layers,
        init=init,
        **common,
    )


def blend_panel(example: str = "penguin_snow", *, enabled: bool = True, size: int | None = None):
    """An ipywidgets panel: move the source with offset sliders and switch Poisson / mixed
    (:func:`helpers.gdf.blend` on a sample example of :func:`helpers.gdf.list_examples`, at its
    full resolution unless ``size`` names a longer side); every change solves the blend again,
    exactly, and redraws it.

    Returns the widget (display it in a notebook); its ``controls`` are ``"dy"``, ``"dx"``
    (offset in pixels) and ``"mode"``; ``panel.preview`` shows the blend at the target's size,
    ``panel.result`` is the latest :class:`helpers.gdf.BlendResult` and ``panel.status`` its
    summary with the step's seconds.  With ``enabled=False`` (headless runs) it builds nothing
    and returns None.

    Only the rows of the image the blend changed are encoded again (:class:`_PngRows`): outside
    Omega the result is the target, bit for bit.
    """
    if not enabled:
        print(OFF_MESSAGE)
        return None
    import ipywidgets as widgets

    from .errors import UserError
    from .gdf import blend, load_example
    from .images import to_uint8

    ex = load_example(example, size=size)
    h, w = ex.target.shape[:2]
    controls = {
        "dy": widgets.IntSlider(value=0, min=-h // 2, max=h // 2, description="offset dy"),
        "dx": widgets.IntSlider(value=0, min=-w // 2, max=w // 2, description="offset dx"),
        "mode": widgets.ToggleButtons(options=["poisson", "mixed"], description="mode"),
    }
    preview, status, errors = _preview_widgets(max(PREVIEW_WIDTH, w))
    # the blend is float64 and equals the target outside Omega: convert the target the same way
    png = _PngRows(to_uint8(np.asarray(ex.target, dtype=np.float64)))

    def update(_=None):
        start = time.perf_counter()
        if errors.outputs:
            errors.clear_output()
        offset = (controls["dy"].value, controls["dx"].value)
        try:
            res = blend(ex.source, ex.target, ex.mask, mode=controls["mode"].value, offset=offset)
        except UserError as exc:
            errors.append_stdout(f"error: {exc}\n")
            return
        rows = np.flatnonzero(res.mask.any(axis=1))
        if res.image.shape != png.shape:  # not the target's layout: encode it whole
            preview.value = png_bytes(res.image)
        elif rows.size:
            preview.value = png.encode(to_uint8(res.image[rows[0] : rows[-1] + 1]), int(rows[0]))
        else:
            preview.value = png.encode()
        panel.result = res
        status.value = f"offset {offset}: {res.summary()}; step {time.perf_counter() - start:.3f} s"

    for control in controls.values():
        control.observe(update, names="value")
    panel = widgets.VBox(
        [widgets.HBox([controls["dy"], controls["dx"]]), controls["mode"], preview, status, errors]
    )
    panel.controls, panel.preview, panel.status, panel.result = controls, preview, status, None
    update()
    return panel
