"""The ipywidgets panels of the notebooks (presentation layer).

Each panel builds its controls, runs a small job of a method package when its "Run" button is
pressed and shows the result with :mod:`helpers.figures`.  ipywidgets, IPython and the method
packages are imported only when a panel is built, so importing this module stays cheap.
"""

from __future__ import annotations


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
    style-transfer preview with :mod:`helpers.nst`.

    ``content``, ``style``: images (arrays, paths or sample asset names; ``None`` where the mode
    needs none).  ``ratio``: the alpha/beta slider's start (default
    :data:`helpers.nst.DEFAULT_RATIO`).  ``mode``: ``"stylize"``, ``"content"``
    (reconstruction) or ``"style"`` (texture synthesis).  ``options`` go to the runs.
    Returns the widget (display it in a notebook); runs nothing until "Run" is pressed.  With
    ``enabled=False`` (headless runs) it builds nothing and returns None.
    """
    if not enabled:
        print("interactive panel off: set INTERACTIVE = True in the parameters cell to use it")
        return None
    import math

    import ipywidgets as widgets
    from IPython.display import display

    from . import nst
    from .errors import UserError
    from .figures import image_grid
    from .nst import vgg

    ratio = nst.DEFAULT_RATIO if ratio is None else ratio
    log_ratio = widgets.FloatSlider(
        value=math.log10(ratio), min=-12, max=2, step=0.5, description="log10 α/β"
    )
    layer_sliders = [
        widgets.FloatSlider(value=0.2, min=0, max=1, step=0.05, description=name)
        for name in vgg.STYLE_LAYERS
    ]
    content_layer = widgets.Dropdown(
        options=list(vgg.CONV_LAYERS), value=vgg.CONTENT_LAYER_PAPER, description="content"
    )
    steps_w = widgets.IntSlider(value=steps, min=5, max=500, step=5, description="steps")
    init_w = widgets.Dropdown(
        options=["content", "noise"] if mode == "stylize" else ["noise"], description="init"
    )
    opt_w = widgets.Dropdown(options=list(nst.OPTIMIZERS), description="optimizer")
    button = widgets.Button(description="Run", button_style="primary")
    out = widgets.Output()

    def on_click(_):
        with out:
            out.clear_output(wait=True)
            try:
                res = _preview_run(
                    mode, content, style,
                    ratio=10**log_ratio.value,
                    content_layer=content_layer.value,
                    style_layers={s.description: s.value for s in layer_sliders},
                    init=init_w.value,
                    size=size, steps=steps_w.value, optimizer=opt_w.value, progress=False,
                    **options,
                )
                display(image_grid([res.images], titles=[[res.summary()[:60]]], cell_size=3.5))
            except UserError as exc:
                print(f"error: {exc}")

    button.on_click(on_click)
    controls = [log_ratio] if mode == "stylize" else []
    controls += layer_sliders if mode != "content" else []
    controls += [content_layer] if mode != "style" else []
    return widgets.VBox([*controls, steps_w, init_w, opt_w, button, out])


def _preview_run(mode, content, style, *, ratio, content_layer, style_layers, init, **common):
    """The one run behind :func:`preview_panel`'s "Run" button."""
    from . import nst

    if mode == "content":
        return nst.reconstruct_content(content, content_layer, init=init, **common)
    if mode == "style":
        return nst.reconstruct_style(style, style_layers, init=init, **common)
    return nst.stylize(content, style, ratio=ratio, content_layers=content_layer,
                       style_layers=style_layers, init=init, **common)


def blend_panel(example: str = "penguin_snow", *, enabled: bool = True, size: int = 320):
    """An ipywidgets panel: move the source with offset sliders and switch Poisson / mixed
    (:func:`helpers.gdf.blend` on a sample example of :func:`helpers.gdf.list_examples`).

    Returns the widget (display it in a notebook).  With ``enabled=False`` (headless runs)
    it builds nothing and returns None.
    """
    if not enabled:
        print("interactive panel off: set INTERACTIVE = True in the parameters cell to use it")
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .errors import UserError
    from .gdf import blend, load_example

    ex = load_example(example, size=size)
    h, w = ex.target.shape[:2]
    dy = widgets.IntSlider(value=0, min=-h // 2, max=h // 2, description="offset dy")
    dx = widgets.IntSlider(value=0, min=-w // 2, max=w // 2, description="offset dx")
    mode = widgets.ToggleButtons(options=["poisson", "mixed"], description="mode")
    out = widgets.Output()

    def update(_=None):
        with out:
            out.clear_output(wait=True)
            try:
                res = blend(
                    ex.source, ex.target, ex.mask, mode=mode.value, offset=(dy.value, dx.value)
                )
            except UserError as exc:
                print(f"error: {exc}")
                return
            fig, ax = plt.subplots(figsize=(6, 6 * h / w))
            ax.imshow(res.clipped)
            ax.set_axis_off()
            ax.set_title(res.summary(), fontsize=8)
            display(fig)
            plt.close(fig)

    for control in (dy, dx, mode):
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([dy, dx]), mode, out])
