"""The sample-image manifest (``data/assets.toml``): fetch from a mirror or URL, verify sha256.

Plumbing: imports only :mod:`helpers.errors` and :mod:`helpers.runtime`.  Sample names such as
``"nst/content/tubingen.jpg"`` resolve to files through :func:`helpers.images.load`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .runtime import ROOT, atomic_path, data_dir

MANIFEST = ROOT / "data" / "assets.toml"
HOW_TO_FETCH = (
    "fetch the sample images with `make data ASSETS_MIRROR=DIR` or "
    "`python -m helpers assets --mirror DIR` "
    "(DIR = a folder holding nst/ and gdf/, e.g. ../shared/data)"
)


@dataclass(frozen=True)
class Asset:
    path: str
    sha256: str
    url: str
    description: str = ""
    source: str = ""
    licence: str = ""


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


def _download(url: str, dest: Path, timeout: float = 30.0) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "helpers-assets/0.1"})
    with urllib.request.urlopen(request, timeout=timeout) as resp, open(dest, "wb") as fh:
        shutil.copyfileobj(resp, fh)


def fetch_assets(
    mirror: str | os.PathLike | None = None,
    *,
    dest: Path | None = None,
    manifest: Path = MANIFEST,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Fetch every missing asset into ``dest`` (default ``data/``) and verify all checksums.

    Sources, in order: ``mirror`` (or ``$ASSETS_MIRROR``), then the asset's URL.
    Files already present with the right sha256 are left alone, so re-running is a no-op.
    A present file with the wrong sha256 is an error (it is never overwritten silently).
    """
    mirror = mirror or os.environ.get("ASSETS_MIRROR") or None
    mirror_dir = Path(mirror) if mirror else None
    if mirror_dir is not None and not mirror_dir.is_dir():
        raise UserError(
            f"asset mirror {mirror_dir} is not a folder; "
            "point --mirror/ASSETS_MIRROR at a folder holding nst/ and gdf/"
        )
    dest = dest or data_dir()
    fetched: list[Path] = []
    problems: list[str] = []
    network_down = False
    for asset in load_manifest(manifest):
        target = dest / asset.path
        if target.is_file():
            if sha256_file(target) != asset.sha256:
                raise UserError(
                    f"{target}: sha256 mismatch (file changed or corrupt); "
                    "delete it and run `make data` again"
                )
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        error, network_down = _fetch_one(asset, target, mirror_dir, use_url=not network_down)
        if error:
            problems.append(error)
            continue
        fetched.append(target)
        log(f"fetched {asset.path}")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{problems[0]}{more}; {HOW_TO_FETCH}")
    return fetched


def _fetch_one(
    asset: Asset, target: Path, mirror_dir: Path | None, *, use_url: bool
) -> tuple[str | None, bool]:
    """Copy or download one asset atomically.

    Returns (error or None, network_down); after one failed connection the URLs of the
    remaining assets are not tried, so an offline run fails in seconds, not minutes.
    """
    candidates: list[tuple[str, Callable[[Path], None]]] = []
    if mirror_dir is not None:
        src = mirror_dir / asset.path
        if src.is_file():
            candidates.append((str(src), lambda tmp, src=src: shutil.copyfile(src, tmp)))
    if asset.url and use_url:
        candidates.append((asset.url, lambda tmp: _download(asset.url, tmp)))
    if not candidates:
        where = f"not in mirror {mirror_dir}" if mirror_dir else "no mirror given"
        why = "the network is unreachable" if asset.url else "it has no public URL"
        return f"cannot fetch {asset.path}: {where} and {why}", not use_url
    last = ""
    network_down = not use_url
    for origin, fetch in candidates:
        try:
            with atomic_path(target) as tmp:
                fetch(tmp)
                digest = sha256_file(tmp)
                if digest != asset.sha256:
                    raise ValueError(
                        f"sha256 mismatch from {origin} "
                        f"(got {digest[:12]}…, want {asset.sha256[:12]}…)"
                    )
            return None, network_down
        except urllib.error.HTTPError as exc:
            last = f"cannot fetch {asset.path}: {origin} answered HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError) as exc:
            network_down = True
            last = f"cannot fetch {asset.path}: network unreachable ({getattr(exc, 'reason', exc)})"
        except (OSError, ValueError) as exc:
            last = f"cannot fetch {asset.path}: {exc}"
    return last, network_down


def verify_assets(dest: Path | None = None, manifest: Path = MANIFEST) -> list[str]:
    """Names of assets that are missing or fail their checksum (empty list = all good)."""
    dest = dest or data_dir()
    bad = []
    for asset in load_manifest(manifest):
        target = dest / asset.path
        if not target.is_file() or sha256_file(target) != asset.sha256:
            bad.append(asset.path)
    return bad
