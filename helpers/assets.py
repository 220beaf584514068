"""The sample-image manifest (``data/assets.toml``): public originals, fetched and verified.

Every entry is a public original: a URL pinned to a full commit and the sha256 of the bytes
there.  :func:`fetch_assets` takes each missing original from one of three sources, the same
for every file:

* ``ASSETS_MIRROR`` (or ``mirror=``) names a folder laid out by URL path, so that
  ``https://github.com/o/r/raw/<commit>/p`` is ``<folder>/github.com/o/r/raw/<commit>/p``;
* ``ASSETS_MIRROR`` is an ``http://`` (or ``https://``) base URL serving that same layout;
* no mirror: the URLs themselves.

Nothing is derived here.  The samples the series uses are made from these originals in code:
the blending examples in :mod:`helpers.gdf.samples`, and every image through
:func:`helpers.images.load`, which loads an original at the size a notebook asks for.

Plumbing: imports only :mod:`helpers.errors` and :mod:`helpers.runtime`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import tempfile
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .runtime import ROOT, data_dir

MANIFEST = ROOT / "data" / "assets.toml"
HOW_TO_FETCH = (
    "fetch the sample images with `make data` (needs access to github.com), or point "
    "ASSETS_MIRROR (or `python -m helpers assets --mirror`) at a copy laid out by URL path: "
    "a folder such as ../shared/originals, or an http:// server of one"
)


@dataclass(frozen=True)
class Asset:
    """One public original: ``path`` under ``data/``, its pinned ``url`` and ``sha256``."""

    path: str
    url: str
    sha256: str
    bytes: int | None = None
    description: str = ""
    licence: str = ""

    @property
    def url_path(self) -> str:
        """The URL without its scheme (``github.com/<owner>/<repo>/raw/<commit>/<path>``):
        where the file sits in a mirror."""
        return self.url.split("://", 1)[-1]


def load_manifest(manifest: Path = MANIFEST) -> list[Asset]:
    """Every asset listed in the manifest."""
    with open(manifest, "rb") as fh:
        entries = tomllib.load(fh)["asset"]
    return [Asset(**entry) for entry in entries]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_asset_name(name: str) -> bool:
    """Whether ``name`` is listed in the manifest (``"nst/content/tubingen.jpg"``)."""
    return name in {a.path for a in load_manifest()}


def asset_path(name: str) -> Path:
    """Local path of a fetched asset, e.g. ``asset_path("nst/content/tubingen.jpg")``.

    Raises :class:`UserError` saying how to fetch it when it is missing.
    """
    known = {a.path for a in load_manifest()}
    if name not in known:
        raise UserError(f"unknown asset {name!r}; see data/assets.toml for the list")
    path = data_dir() / name
    if not path.is_file():
        raise UserError(f"sample image {name} is missing from {data_dir()}; {HOW_TO_FETCH}")
    return path


def _is_http(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _opener(url: str) -> urllib.request.OpenerDirector:
    """urllib's default opener, except that a loopback mirror is reached directly (a proxy
    configured for the internet cannot reach this machine's own server)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _download(url: str, dest: Path, timeout: float = 30.0) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "helpers-assets/0.2"})
    with _opener(url).open(request, timeout=timeout) as resp, open(dest, "wb") as fh:
        shutil.copyfileobj(resp, fh)


def source_of(asset: Asset, mirror: str | None) -> str:
    """Where ``asset`` is fetched from: its URL, or its place in ``mirror`` (folder or URL)."""
    if not mirror:
        return asset.url
    if _is_http(mirror):
        return f"{mirror.rstrip('/')}/{urllib.parse.quote(asset.url_path)}"
    return str(Path(mirror) / asset.url_path)


def _check_mirror(mirror: str | None) -> None:
    if mirror is None or _is_http(mirror):
        return
    if not Path(mirror).is_dir():
        raise UserError(
            f"asset mirror {mirror} is not a folder; point --mirror/ASSETS_MIRROR at a folder "
            "laid out by URL path (<folder>/github.com/...) or at an http:// base URL"
        )
    if not (Path(mirror) / "github.com").is_dir():
        raise UserError(
            f"asset mirror {mirror} is not laid out by URL path (no {mirror}/github.com/); "
            "point it at a copy of the originals such as ../shared/originals"
        )


def fetch_assets(
    mirror: str | os.PathLike | None = None,
    *,
    dest: Path | None = None,
    manifest: Path = MANIFEST,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Fetch every missing original into ``dest`` (default ``data/``) and verify all checksums.

    ``mirror`` (default ``$ASSETS_MIRROR``): a folder laid out by URL path, an ``http://`` base
    URL serving that layout, or nothing for the URLs themselves.  Files already present with the
    right sha256 are left alone, so a second run does nothing.  A present file with the wrong
    sha256 is an error (it is never overwritten silently).  All or nothing: every missing
    original is fetched and verified in a staging folder first, and when one fails (missing,
    unreachable, wrong sha256) one :class:`UserError` line names it and nothing is written.
    """
    mirror = os.fspath(mirror) if mirror else os.environ.get("ASSETS_MIRROR") or None
    _check_mirror(mirror)
    dest = dest or data_dir()
    missing = []
    for asset in load_manifest(manifest):
        target = dest / asset.path
        if not target.is_file():
            missing.append(asset)
        elif sha256_file(target) != asset.sha256:
            raise UserError(
                f"{target}: sha256 mismatch (file changed or corrupt); "
                "delete it and run `make data` again"
            )
    if not missing:
        return []
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest))
    try:
        problems = _fetch_all(missing, staging, mirror, log)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(f"{problems[0]}{more}; {HOW_TO_FETCH}")
        fetched = []
        for asset in missing:
            target = dest / asset.path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / asset.path, target)
            fetched.append(target)
        return fetched
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_all(
    assets: list[Asset], staging: Path, mirror: str | None, log: Callable[[str], None]
) -> list[str]:
    """Fetch ``assets`` into ``staging``; the problems, one line each (empty: all verified).

    After one failed connection the remaining network fetches are not tried, so an offline run
    fails in seconds, not minutes."""
    problems: list[str] = []
    network_down = False
    for asset in assets:
        origin = source_of(asset, mirror)
        if network_down and _is_http(origin):
            problems.append(f"cannot fetch {asset.path} from {origin}: network unreachable")
            continue
        tmp = staging / asset.path
        tmp.parent.mkdir(parents=True, exist_ok=True)
        error, network_down = _fetch_one(asset, origin, tmp)
        if error:
            problems.append(error)
            tmp.unlink(missing_ok=True)
        else:
            log(f"fetched {asset.path}")
    return problems


def _fetch_one(asset: Asset, origin: str, tmp: Path) -> tuple[str | None, bool]:
    """Copy or download one original to ``tmp`` and verify it: (error or None, network down)."""
    where = f"cannot fetch {asset.path} from {origin}"
    if origin != asset.url:
        where += f" (url {asset.url})"
    try:
        if _is_http(origin):
            _download(origin, tmp)
        elif not Path(origin).is_file():
            return f"{where}: not in the mirror", False
        else:
            shutil.copyfile(origin, tmp)
    except urllib.error.HTTPError as exc:
        return f"{where}: HTTP {exc.code}", False
    except (urllib.error.URLError, TimeoutError) as exc:
        return f"{where}: network unreachable ({getattr(exc, 'reason', exc)})", True
    except OSError as exc:
        return f"{where}: {exc}", False
    digest = sha256_file(tmp)
    if digest != asset.sha256:
        return f"{where}: sha256 mismatch (got {digest[:12]}…, want {asset.sha256[:12]}…)", False
    return None, False


def verify_assets(dest: Path | None = None, manifest: Path = MANIFEST) -> list[str]:
    """Names of assets that are missing or fail their checksum (empty list = all good)."""
    dest = dest or data_dir()
    bad = []
    for asset in load_manifest(manifest):
        target = dest / asset.path
        if not target.is_file() or sha256_file(target) != asset.sha256:
            bad.append(asset.path)
    return bad
