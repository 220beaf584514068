"""Interactive use as a reader meets it: JupyterLab in Chromium runs notebooks 04 and 06 with
``INTERACTIVE = True`` from the UI, and their panels answer the mouse and the keyboard.

JupyterLab starts from this Python (``.venv``) on a free localhost port with a token, rooted
at a temporary folder holding smoke-scale copies of the two notebooks (their parameters cell
sets ``INTERACTIVE = True``, the smoke profile's values come in papermill's injected cell) and
writing its outputs there.  Playwright drives Debian's ``chromium`` (no browser download);
where no chromium can be found or started the tests skip with one line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import LOCAL, jupyter_server

from helpers.runtime import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (.[dev])")


def _chromium() -> str:
    """Debian's chromium (``$CHROMIUM`` overrides), checked by running it; else a module-level
    skip, one line for the whole file."""
    executable = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not executable:
        pytest.skip("chromium not available: not on PATH", allow_module_level=True)
    try:
        subprocess.run([executable, "--version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"chromium not available: {exc}", allow_module_level=True)
    return executable


CHROMIUM = _chromium()

NOTEBOOKS = ("04-style-transfer", "06-poisson-blending")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # as root the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-proxy-server",  # localhost only
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab user settings: every cell in the page (no windowing), the notebook's kernel starts
# without asking, no news poll
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": (
        '{"windowingMode": "none", "autoStartDefaultKernel": true}'
    ),
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}',
}
RUN_TIMEOUT = 300  # seconds for a notebook's Run All at smoke scale
# Run All has ended: a cell ran ([n]:), none is queued or running ([*]:), the kernel is idle
# (after an error the cells below stay [ ]:, which the test then reports)
ALL_RAN = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(e => e.textContent.trim());
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
    return prompts.some(p => /^\\[\\d+\\]:$/.test(p)) && !prompts.includes('[*]:')
        && status === 'idle';
}"""
# every text an element shows from now on, in window.statusTexts (no polling from Python)
RECORD_TEXTS = """(el) => {
    window.statusTexts = [];
    new MutationObserver(() => window.statusTexts.push(el.innerText))
        .observe(el, {subtree: true, childList: true, characterData: true});
}"""
# milliseconds from each keydown or click in the page to the next new image decoded, in
# window.stepMs (a measurement the test prints, not a check)
TIME_IMAGES = """(img) => {
    window.stepMs = [];
    let since = null;
    for (const kind of ['keydown', 'mousedown'])
        document.addEventListener(kind, () => { since = performance.now(); }, true);
    new MutationObserver(() => img.decode().then(() => {
        if (since !== null) window.stepMs.push(performance.now() - since);
        since = null;
    })).observe(img, {attributes: true, attributeFilter: ['src']});
}"""
# SHA-256 of the bytes an <img> shows
IMAGE_DIGEST = """async (img) => {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('');
}"""


def _interactive_copy(stem: str, dest: Path) -> None:
    """``notebooks/<stem>.ipynb`` with ``INTERACTIVE = True`` in its parameters cell and the
    smoke profile's values injected, unexecuted, in ``dest``."""
    import nbformat
    import papermill

    from helpers.report.params import profile_parameters

    source = ROOT / "notebooks" / f"{stem}.ipynb"
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert cell.source.count("INTERACTIVE = False") == 1, cell.source
    cell.source = cell.source.replace("INTERACTIVE = False", "INTERACTIVE = True")
    edited = dest / f".{stem}.edited.ipynb"
    nbformat.write(nb, edited)
    papermill.execute_notebook(
        str(edited),
        str(dest / f"{stem}.ipynb"),
        parameters=profile_parameters(source, "smoke"),
        prepare_only=True,
        log_output=False,
        progress_bar=False,
    )
    edited.unlink()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab (from this Python) on a free localhost port with a token, rooted at a
    temporary folder holding the interactive copies; stopped afterwards."""
    root = tmp_path_factory.mktemp("browser-lab")
    for stem in NOTEBOOKS:
        _interactive_copy(stem, root)
    home = root.parent / f"{root.name}-home"
    for name, text in SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {
        "HELPERS_OUTPUTS": str(home / "outputs"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    log_path = home / "lab.log"
    never_check = "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    with jupyter_server("jupyterlab", root, log_path, env=env, args=(never_check,)) as started:
        yield (*started, log_path)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright (a skip where it does not start)."""
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            pytest.skip(f"chromium not available: {str(exc).splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def notebook(browser, lab, tmp_path):
    """Open a notebook in a fresh page, run all cells from the Run menu, fail on any error
    output; returns the page.  The page's last look is left in ``tmp_path/page.png``."""
    base, token, log_path = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)

    def open_and_run(stem: str):
        page.goto(f"{base}/lab/tree/{stem}.ipynb?reset&token={token}")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
        page.wait_for_function(ALL_RAN, timeout=RUN_TIMEOUT * 1000, polling=250)
        errors = [
            text
            for text in page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ).all_inner_texts()
            if "Traceback" in text or "Error" in text
        ]
        errors += page.locator(".jp-OutputArea-output[data-mime-type*='error']").all_inner_texts()
        assert not errors, f"{stem}: error output:\n" + "\n".join(errors)
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        assert all(p.strip()[1:-2].isdigit() for p in prompts), f"{stem}: not run: {prompts}"
        return page

    try:
        yield open_and_run
    finally:
        page.screenshot(path=str(tmp_path / "page.png"))
        page.close()
        _shut_down_kernels(base, token)


def _shut_down_kernels(base: str, token: str) -> None:
    """Stop the kernels a test started (closing the page leaves them running)."""
    headers = {"Authorization": f"token {token}"}
    with LOCAL.open(urllib.request.Request(f"{base}/api/kernels", headers=headers)) as r:
        kernels = json.loads(r.read())
    for kernel in kernels:
        url = f"{base}/api/kernels/{kernel['id']}"
        LOCAL.open(urllib.request.Request(url, headers=headers, method="DELETE")).close()


def _panel_state(page, output) -> tuple[str, str]:
    """(image digest, status line) of the panel in ``output`` (a cell's output area)."""
    digest = output.locator("img.helpers-panel-preview").evaluate(IMAGE_DIGEST)
    return digest, output.locator(".helpers-panel-status").inner_text()


def _wait_for_change(page, output, before: tuple[str, str], timeout: float = 30) -> tuple:
    """The panel's (image digest, status line) once its status line has changed; the image
    must have changed too (a panel sets its image before its status line)."""
    status = output.locator(".helpers-panel-status").element_handle()
    page.wait_for_function(
        "([el, old]) => el.innerText !== old",
        arg=[status, before[1]],
        polling=50,
        timeout=timeout * 1000,
    )
    now = _panel_state(page, output)
    assert now[0] != before[0], f"new status line, same image: {before} -> {now}"
    return now


def _panel_output(page, call: str):
    """The output area of the code cell whose source holds ``call``."""
    cell = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=call))
    return cell.locator(".jp-OutputArea").first


def test_06_blend_panel_follows_the_keyboard_and_the_mode_toggle(notebook):
    from helpers import gdf

    page = notebook("06-poisson-blending")
    output = _panel_output(page, "widgets.blend_panel(")
    start = _panel_state(page, output)
    assert start[1].startswith("offset (0, 0): poisson blend"), start
    h, w = gdf.load_example("penguin_snow").target.shape[:2]  # PANEL_EXAMPLE, full resolution
    size = output.locator("img.helpers-panel-preview").evaluate(
        "img => [img.naturalHeight, img.naturalWidth]"
    )
    assert size == [h, w]

    output.locator("img.helpers-panel-preview").evaluate(TIME_IMAGES)
    output.locator(".noUi-handle").first.focus()  # the dy slider
    page.keyboard.press("ArrowRight")
    moved = _wait_for_change(page, output, start)
    assert moved[1].startswith("offset (1, 0): poisson blend"), moved

    output.locator("button", has_text="mixed").click()
    mixed = _wait_for_change(page, output, moved)
    for what, ms in zip(("key press", "mode click"), page.evaluate("window.stepMs"), strict=True):
        print(f"06 in the browser: {what} to the new image decoded: {ms:.0f} ms")
    assert mixed[1].startswith("offset (1, 0): mixed blend"), mixed
    assert not output.locator(".widget-output .jp-OutputArea-output").count()  # no panel error
    output.scroll_into_view_if_needed()


def test_04_preview_panel_runs_on_click_with_a_progress_line(notebook):
    from helpers import widgets

    page = notebook("04-style-transfer")
    output = _panel_output(page, "widgets.preview_panel(")
    start = _panel_state(page, output)
    assert start[1] == "", start  # nothing runs before "Run"

    status = output.locator(".helpers-panel-status")
    status.evaluate(RECORD_TEXTS)
    pressed = time.perf_counter()
    output.locator("button", has_text="Run").click()
    page.wait_for_function(
        "() => window.statusTexts.some(t => t.includes('evaluations'))", polling=100
    )
    done = _wait_for_change(page, output, start)
    seen = status.evaluate("() => window.statusTexts")
    assert any(s.startswith("running: evaluation") for s in seen), seen  # the progress line
    print(f"04: Run click to the 128 px result shown: {time.perf_counter() - pressed:.2f} s")
    assert f"{widgets.PREVIEW_STEPS} evaluations" in done[1], done
    size = output.locator("img.helpers-panel-preview").evaluate(
        "img => Math.max(img.naturalHeight, img.naturalWidth)"
    )
    assert size == widgets.PREVIEW_SIZE
    assert not output.locator(".widget-output .jp-OutputArea-output").count()  # no panel error
    output.scroll_into_view_if_needed()
