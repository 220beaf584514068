"""The Dask stack is the optional ``sweep`` extra: a clear refusal where it is missing.

Part of :mod:`helpers.sweep`.  ``dask[distributed,diagnostics]`` and ``dask-jobqueue`` are not
needed by the rest of the package (most users run on one machine), so they are installed with
``pip install -e '.[sweep]'`` (``make sweep`` and the ``dev`` extra include them).
"""

from __future__ import annotations

import importlib.util

from ..errors import UserError

SWEEP_EXTRA = "pip install -e '.[sweep]'"
"""How to install the Dask stack the sweeps run on."""


def require_dask(*modules: str) -> None:
    """Refuse in one line (a :class:`UserError` naming :data:`SWEEP_EXTRA`) when one of
    ``modules`` (default ``dask`` and ``distributed``) is not installed; imports nothing."""
    missing = [m for m in modules or ("dask", "distributed") if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"sweeps run on Dask, which is not installed here (no {', '.join(missing)}): "
            f"{SWEEP_EXTRA}"
        )
