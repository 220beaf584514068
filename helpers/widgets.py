"""The ipywidgets panels of the notebooks (presentation layer).

Each panel builds its controls, runs a small job of a method package (on "Run" for style
transfer, on every change for blending) and shows the result as a PNG in an
``ipywidgets.Image`` with a one-line summary under it.  The returned ``VBox`` also carries
``panel.controls`` (name -> widget) and ``panel.preview`` (the Image), so a test or a notebook
can set the controls and read the result programmatically, without a browser.  ipywidgets,
IPython and the method packages are imported only when a panel is built, so importing this
module stays cheap.

Turn a panel on with ``INTERACTIVE = True`` in a notebook's parameters cell (papermill and
nbval runs leave it off: a panel needs a live kernel).
"""

from __future__ import annotations

import io

OFF_MESSAGE = "interactive panel off: set INTERACTIVE = True in the parameters cell to use it"
PREVIEW_WIDTH = 320
"""Display width of a panel's preview in pixels (small previews are scaled up)."""


def png_bytes(image) -> bytes:
    """An ``(H, W, 3)`` float image in [0, 1] as PNG bytes (what an ``ipywidgets.Image``
    shows)."""
    from PIL import Image

    from .images import to_uint8

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _preview_widgets(width: int):
    import ipywidgets as widgets

    preview = widgets.Image(format="png", layout=widgets.Layout(width=f"{width}px"))
    summary = widgets.Label(value="")
    errors = widgets.Output()
    return preview, summary, errors


def preview_panel(
    content,
    style,
    *,
    enabled: bool = True,
    size: int = 64,
    steps: int = 30,
    ratio: float | None = None,
    mode: str = "stylize",
    **options,
):
    """An ipywidgets panel (alpha/beta, style-layer weights, steps, init) rerunning a small
    style-transfer preview with :mod:`helpers.nst` when "Run" is pressed.

    ``content``, ``style``: images (arrays, paths or sample asset names; ``None`` where the mode
    needs none).  ``ratio``: the alpha/beta slider's start (default
    :data:`helpers.nst.DEFAULT_RATIO`).  ``mode``: ``"stylize"``, ``"content"``
    (reconstruction) or ``"style"`` (texture synthesis).  ``options`` go to the runs (e.g.
    ``device``, ``weights``).  Returns the widget (display it in a notebook); its ``controls``
    are ``"ratio"`` (log10 alpha/beta), one slider per style layer (named as in
    :data:`helpers.nst.vgg.STYLE_LAYERS`), ``"content_layer"``, ``"steps"``, ``"init"``,
    ``"optimizer"`` and ``"run"`` (the button;
    ``panel.controls["run"].click()`` runs it).  With ``enabled=False`` (headless runs) it
    builds nothing and returns None.
    """
    if not enabled:
        print(OFF_MESSAGE)
        return None
    import math

    import ipywidgets as widgets

    from . import nst
    from .errors import UserError
    from .nst import vgg

    ratio = nst.DEFAULT_RATIO if ratio is None else ratio
    controls = {
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
    preview, summary, errors = _preview_widgets(PREVIEW_WIDTH)

    def on_click(_=None):
        errors.clear_output()
        summary.value = "running ..."
        try:
            res = _preview_run(
                mode,
                content,
                style,
                ratio=10 ** controls["ratio"].value,
                content_layer=controls["content_layer"].value,
                style_layers={name: controls[name].value for name in vgg.STYLE_LAYERS},
                init=controls["init"].value,
                size=size,
                steps=controls["steps"].value,
                optimizer=controls["optimizer"].value,
                progress=False,
                **options,
            )
        except UserError as exc:
            summary.value = ""
            errors.append_stdout(f"error: {exc}\n")
            return
        preview.value = png_bytes(res.images[0])
        summary.value = res.summary()[:120]

    controls["run"].on_click(on_click)
    shown = [controls["ratio"]] if mode == "stylize" else []
    shown += [controls[name] for name in vgg.STYLE_LAYERS] if mode != "content" else []
    shown += [controls["content_layer"]] if mode != "style" else []
    shown += [controls[k] for k in ("steps", "init", "optimizer", "run")]
    panel = widgets.VBox([*shown, preview, summary, errors])
    panel.controls, panel.preview = controls, preview
    return panel


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


def blend_panel(example: str = "penguin_snow", *, enabled: bool = True, size: int = 320):
    """An ipywidgets panel: move the source with offset sliders and switch Poisson / mixed
    (:func:`helpers.gdf.blend` on a sample example of :func:`helpers.gdf.list_examples`,
    its longer side ``size`` pixels); every change re-solves and redraws.

    Returns the widget (display it in a notebook); its ``controls`` are ``"dy"``, ``"dx"``
    (offset in pixels) and ``"mode"``; ``panel.preview`` shows the blend at the target's size.
    With ``enabled=False`` (headless runs) it builds nothing and returns None.
    """
    if not enabled:
        print(OFF_MESSAGE)
        return None
    import ipywidgets as widgets

    from .errors import UserError
    from .gdf import blend, load_example

    ex = load_example(example, size=size)
    h, w = ex.target.shape[:2]
    controls = {
        "dy": widgets.IntSlider(value=0, min=-h // 2, max=h // 2, description="offset dy"),
        "dx": widgets.IntSlider(value=0, min=-w // 2, max=w // 2, description="offset dx"),
        "mode": widgets.ToggleButtons(options=["poisson", "mixed"], description="mode"),
    }
    preview, summary, errors = _preview_widgets(max(PREVIEW_WIDTH, w))

    def update(_=None):
        errors.clear_output()
        try:
            res = blend(
                ex.source,
                ex.target,
                ex.mask,
                mode=controls["mode"].value,
                offset=(controls["dy"].value, controls["dx"].value),
            )
        except UserError as exc:
            errors.append_stdout(f"error: {exc}\n")
            return
        preview.value = png_bytes(res.clipped)
        summary.value = res.summary()

    for control in controls.values():
        control.observe(update, names="value")
    update()
    panel = widgets.VBox(
        [widgets.HBox([controls["dy"], controls["dx"]]), controls["mode"], preview, summary, errors]
    )
    panel.controls, panel.preview = controls, preview
    return panel
