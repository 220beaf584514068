"""The rendered writeup as a reader gets it: a smoke run of two chapters, rendered once.

The session fixture runs notebook 05 (NumPy only) and, when the VGG-19 weights are cached,
notebook 01 under the smoke profile into a temporary ``outputs/`` and renders the report.
Every page is then checked for what a reader must never meet (:func:`page_problems`): an
absolute path or an object repr in the text, a broken relative link or image, a resource from
the network, a chapter without a figure, an error output, a figure without its numbered
caption, a header out of order.  The checks themselves are tested on a page made to break
each rule.  With Debian's ``chromium`` installed, every page is also loaded headlessly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import report
from helpers.nst import vgg
from helpers.runtime import cache_dir

bs4 = pytest.importorskip("bs4")

ABSOLUTE = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]+")
REPRS = re.compile(
    r"\w*Path\(['\"]|\bat 0x[0-9a-fA-F]{4,}|<Figure size|<(?:matplotlib|IPython)\.|"
    r"<[\w.]+ object\b|\b(?:VBox|HBox|Output)\(children"
)
CAPTION = re.compile(r"^Figure (\d+)\.(\d+)\.\s+\S")


def _soup(path: Path):
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _visible_text(soup) -> str:
    soup = bs4.BeautifulSoup(str(soup), "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return soup.get_text(" ")


def _link_problems(page: Path, soup) -> list[str]:
    problems = []
    ids = {tag["id"] for tag in soup.find_all(id=True)}
    for tag, attr in (("a", "href"), ("img", "src"), ("link", "href"), ("script", "src")):
        for node in soup.find_all(tag):
            target = node.get(attr)
            if target is None:
                continue
            if target.startswith(("http://", "https://", "//")):
                if tag != "a":
                    problems.append(f"<{tag} {attr}={target[:60]}> needs the network")
                continue
            if target.startswith(("data:", "mailto:")):
                continue
            if target.startswith(("file:", "/")):
                problems.append(f"<{tag} {attr}={target[:60]}> is an absolute path")
                continue
            path, _, anchor = target.partition("#")
            if not path:
                if anchor and anchor not in ids:
                    problems.append(f"anchor #{anchor} not on the page")
            elif not (page.parent / path).is_file():
                problems.append(f"<{tag} {attr}={target}> is broken")
    return problems


def _caption_problems(soup, chapter: int | None) -> list[str]:
    """Every output image is followed by a "Figure C.N. ..." caption, numbered 1, 2, ..."""
    problems, numbers = [], []
    for area in soup.select("div.jp-OutputArea"):
        children = area.find_all("div", class_="jp-OutputArea-child", recursive=False)
        for i, child in enumerate(children):
            caption = child.select_one("p.caption")
            if caption is not None:
                match = CAPTION.match(caption.get_text(" ").strip())
                if match is None:
                    problems.append(f"caption not 'Figure C.N. text': {caption.get_text()[:60]}")
                else:
                    numbers.append((int(match[1]), int(match[2])))
            if child.find("img") is None:
                continue
            following = children[i + 1] if i + 1 < len(children) else None
            if following is None or following.select_one("p.caption") is None:
                problems.append(f"figure without a caption (output {i} of a cell)")
    for k, (chap, n) in enumerate(numbers, start=1):
        if (chapter is not None and chap != chapter) or n != k:
            problems.append(f"Figure {chap}.{n} is figure {k} of chapter {chapter}")
    return problems


def page_problems(page: Path) -> list[str]:
    """What is wrong with one rendered page (empty list: nothing)."""
    soup = _soup(page)
    text = _visible_text(soup)
    problems = [f"absolute path in text: {m}" for m in ABSOLUTE.findall(text)[:3]]
    problems += [f"object repr in text: {m!r}" for m in REPRS.findall(text)[:3]]
    problems += _link_problems(page, soup)
    if "<script src" in str(soup) or re.search(r"@import\s+url\(['\"]?https?:", str(soup)):
        problems.append("a script or stylesheet is loaded from elsewhere")
    if page.name == "index.html":
        return problems
    header = soup.select_one("header.report-header")
    if header is None or header.find("h1") is None:
        return [*problems, "no header with the chapter's title"]
    if not header.select_one(".report-line") or "device" not in header.get_text():
        problems.append("no profile/device line under the title")
    abstract = header.select_one(".report-abstract")
    if abstract is None or not abstract.get_text(strip=True):
        problems.append("no abstract under the title")
    params = header.select_one("details.report-parameters")
    if params is None or params.has_attr("open"):
        problems.append("parameters not in a collapsed <details> block")
    if soup.select(".report-error") or soup.select(".report-status-failed"):
        problems.append("an error output / the chapter failed")
    if not soup.select("div.jp-OutputArea-output img"):
        problems.append("a chapter page without a figure")
    digits = page.stem.split("-", 1)[0]
    problems += _caption_problems(soup, int(digits) if digits.isdigit() else None)
    return problems


# ----------------------------------------------------------------------------- the checks fail


BAD_PAGE = """<html><body><main><header class="report-header"><h1>07 · Bad</h1>
<details class="report-parameters" open><summary>Parameters</summary></details></header>
<div class="jp-OutputArea">
 <div class="jp-OutputArea-child"><pre>PosixPath('/work/x/outputs/a.png') saved to /home/me/a.png
 <Figure size 640x480 with 1 Axes></pre></div>
 <div class="jp-OutputArea-child"><div class="jp-OutputArea-output"><img src="missing.png">
 </div></div>
 <div class="jp-OutputArea-child"><div class="report-error">Traceback</div></div>
</div><script src="https://cdn.example.org/x.js"></script></main></body></html>"""


def test_page_checks_catch_each_kind_of_problem(tmp_path):
    page = tmp_path / "07-bad.html"
    page.write_text(BAD_PAGE, encoding="utf-8")
    text = "\n".join(page_problems(page))
    for expected in (
        "absolute path in text",
        "object repr",
        "missing.png> is broken",
        "needs the network",
        "figure without a caption",
        "error output",
        "collapsed",
        "profile/device",
        "abstract",
    ):
        assert expected in text, (expected, text)


def test_headline_numbers_survive_missing_and_odd_metrics():
    from helpers.report.index import headline_numbers

    assert headline_numbers("05-gradient-toy-problem", None) == []
    assert headline_numbers("06-poisson-blending", {"metrics": {"full": {"x": "odd"}}}) == []
    known = headline_numbers("05-gradient-toy-problem", {"metrics": {"speedup": 12.5}})
    assert known == [("speed-up vs naive", "12.5")]
    unlisted = headline_numbers("09-new", {"metrics": {"a": 0.5, "b": {"c": 1}, "d": "x"}})
    assert unlisted == [("a", "0.5"), ("d", "x")]  # first scalar numbers, nested ones skipped


# ----------------------------------------------------------------------------- a smoke run


def _chapters() -> list[str]:
    chapters = ["05"]
    if os.environ.get("VGG19_WEIGHTS") or (cache_dir() / vgg.CACHE_NAME).is_file():
        chapters.insert(0, "01")
    return chapters


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """outputs/report/ of a smoke run of notebooks 01 (with weights) and 05, in a temp dir."""
    outputs = tmp_path_factory.mktemp("html") / "outputs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HELPERS_OUTPUTS", str(outputs))
        notebooks = [nb for nb in report.discover() if nb.stem[:2] in _chapters()]
        results = report.run_series(notebooks, profile="smoke")
        index = report.render_report(results)
    for result in results:
        assert result.ok, result.failed.describe() if result.failed else result
    return index.parent


def results_of(rendered: Path) -> list:
    return report.load_results(rendered.parent / "notebooks" / "results.json")


def test_every_page_reads_clean(rendered):
    pages = sorted(rendered.glob("*.html"))
    assert len(pages) == len(results_of(rendered)) + 1
    problems = {p.name: page_problems(p) for p in pages}
    assert not any(problems.values()), problems


def test_chapter_page_opens_with_title_then_abstract(rendered):
    soup = _soup(rendered / "05-gradient-toy-problem.html")
    header = soup.select_one("header.report-header")
    order = [
        tag.name if tag.name != "p" else tag.get("class", [""])[0]
        for tag in header.find_all(["h1", "p", "details"], recursive=False)
    ]
    assert order[:2] == ["h1", "report-line"] and order[-1] == "details", order
    assert "smoke" in header.select_one(".report-line").get_text()
    prose = [header.select_one(".report-abstract"), *soup.select(".jp-MarkdownOutput")]
    assert all("$" not in part.get_text() for part in prose)  # TeX became MathML


def test_index_shows_thumbnail_numbers_and_status_per_chapter(rendered):
    soup = _soup(rendered / "index.html")
    cards = soup.select("section.card")
    assert len(cards) == len(results_of(rendered))
    for card in cards:
        img = card.select_one(".thumb img")
        assert img is not None and img["src"].startswith("data:image/png;base64,")
        assert len(img["src"]) > 1000  # an embedded thumbnail, not an empty image
        assert card.select("td.value"), card.get_text()
        assert "passed" in card.select_one(".line").get_text()
        assert (rendered / card.select_one("h2 a")["href"]).is_file()
    toy = soup.find(id="05-gradient-toy-problem").get_text(" ")
    assert "toy max error" in toy and "relative residual" in toy


# ----------------------------------------------------------------------------- a browser


def _browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


PROBE = """<script>window.addEventListener('load', function () {
  document.querySelectorAll('img').forEach(function (i) {
    i.setAttribute('data-rendered', i.naturalWidth + 'x' + i.naturalHeight); });
  document.body.setAttribute('data-probe', 'done'); });</script>"""


@pytest.mark.skipif(_browser() is None, reason="Debian's chromium is not installed")
def test_pages_render_in_headless_chromium(rendered, tmp_path):
    """Each page loads offline in chromium: its title is there, every image has a size."""
    copy = tmp_path / "report"
    shutil.copytree(rendered, copy)
    for page in sorted(copy.glob("*.html")):
        probe = page.with_name(f"probe-{page.name}")
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
        out = subprocess.run(
            [
                _browser(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        dom = bs4.BeautifulSoup(out.stdout, "html.parser")
        assert dom.body is not None and dom.body.get("data-probe") == "done", out.stderr[-500:]
        assert dom.find("h1") is not None and dom.find("h1").get_text(strip=True)
        images = dom.find_all("img")
        assert images, page.name
        sizes = [img.get("data-rendered", "0x0") for img in images]
        assert all(not s.startswith("0x") and not s.endswith("x0") for s in sizes), sizes
