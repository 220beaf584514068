"""Style transfer, evaluations to quality on the delivered image (issue 15, item 3), CPU.

    python -m benchmarks quality            # ~3 min with the committed references
    python -m benchmarks --quick quality    # harness smoke run, small sizes

The *delivered* image is the one the user gets: clamped to [0, 1] and quantised to 8 bits
(:func:`helpers.images.quantize`); every loss here is the project's objective on it.

3. For Tübingen × Starry Night and Golden Gate × The Great Wave at 128 px and 256 px (longer
   side): the peer (:mod:`benchmarks.peer`, the PyTorch tutorial's way: ``torch.optim.LBFGS``
   with strong Wolfe, clamp at the end) runs 300 evaluations; its delivered loss is the level.
   The project's default run (:func:`benchmarks.quality.delivered_curve`) must reach it within
   150 evaluations; it stops at the first sampled evaluation (1, 5, every 10) that does.
3b. The Berkeley recipe (Adam, lr :data:`helpers.nst.BERKELEY_LR` on the [0, 1] image, 1200
   evaluations, Tübingen × Starry Night 128 px): the project must reach its delivered loss
   within 300 evaluations.

The peer and Adam runs are fixed yardsticks (~15 min of CPU to compute): each is stored in
``benchmarks/references/ref-*.json`` (committed, a few hundred bytes each; keyed by the images,
size, objective and torch version) and used only when this machine reproduces its first three
evaluations to 1e-3; otherwise, or with ``BENCH_STYLE_FRESH=1``, it is recomputed and stored
again.  The project's runs are always fresh.  ``BENCH_OLD_LOOP=1`` adds 3c (how many
evaluations the default loop needs for what the unbounded loop of an earlier version delivered
after 300; two more 300-evaluation runs).  Curves (delivered loss vs evaluations, project vs
peer vs Adam): ``benchmarks/results/quality-curves.png`` and a table on stdout.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

from . import common, peer, quality
from .common import NAN, RESULTS_DIR, TUBINGEN, Result, say

REFERENCE_DIR = Path(__file__).resolve().parent / "references"
"""The committed peer and Adam reference curves (see the module docstring)."""

SIZES = (128, 256)
PEER_EVALS, TARGET = 300, 150
BERKELEY_TARGET = 300


def _key(kind: str, content, style, obj, budget: int) -> Path:
    import torch

    config = {
        "kind": kind,
        "content": hashlib.sha256(content.tobytes()).hexdigest()[:16],
        "style": hashlib.sha256(style.tobytes()).hexdigest()[:16],
        "shape": list(content.shape),
        "objective": repr(obj),
        "budget": budget,
        "weights": str(common.WEIGHTS),
        "torch": torch.__version__,
    }
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    return REFERENCE_DIR / f"ref-{kind}-{digest}.json"


def _cached(path: Path | None, probe) -> dict | None:
    """The cached reference when its first evaluations reproduce (``probe()`` -> losses)."""
    if path is None or not path.exists() or os.environ.get("BENCH_STYLE_FRESH") == "1":
        return None
    ref = json.loads(path.read_text())
    fresh = probe()
    # thread counts change float rounding, and a line search amplifies it: a loose match
    if all(math.isclose(a, b, rel_tol=1e-3) for a, b in zip(fresh, ref["probe"])):
        return ref
    say(f"    cached {path.name} does not reproduce its first evaluations: recomputing")
    return None


def _store(path: Path | None, ref: dict) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(ref) + "\n")
    tmp.replace(path)


def peer_reference(content, style, obj, *, budget: int, cache: bool) -> dict:
    """The peer's delivered-loss curve over ``budget`` evaluations, and its final delivered loss."""
    path = _key("peer", content, style, obj, budget) if cache else None

    def probe(n: int = 3) -> list[float]:
        seen: list[float] = []
        peer.run(
            obj,
            content,
            style,
            evaluations=n,
            weights=common.WEIGHTS,
            on_eval=lambda k, im, loss: seen.append(loss),
        )
        return seen[:n]

    ref = _cached(path, probe)
    if ref is not None:
        return ref
    marks = list(peer.checkpoints(budget))
    snaps: dict[int, object] = {}
    seen: list[float] = []

    def grab(k, image, loss) -> None:
        seen.append(loss)
        if k in marks:
            snaps[k] = image[0].permute(1, 2, 0).numpy().copy()

    t0 = time.perf_counter()
    out = peer.run(obj, content, style, evaluations=budget, weights=common.WEIGHTS, on_eval=grab)
    seconds = time.perf_counter() - t0
    marks = [m for m in marks if m in snaps]
    scored = quality.delivered_losses(
        [snaps[m] for m in marks] + [out["image"]],
        content,
        style,
        objective=obj,
        weights=common.WEIGHTS,
        device="cpu",
    )
    ref = {
        "evaluations": marks,
        "delivered": scored[:-1].tolist(),
        "final": float(scored[-1]),
        "used": out["evaluations"],
        "seconds": seconds,
        "probe": seen[:3],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    _store(path, ref)
    return ref


def adam_reference(content, style, obj, *, steps: int, cache: bool) -> dict:
    """The Berkeley recipe's run (Adam, lr BERKELEY_LR, content init): its delivered loss."""
    from helpers import nst

    opts = dict(optimizer="adam", lr=nst.BERKELEY_LR, weights=common.WEIGHTS, device="cpu")
    path = _key("adam", content, style, obj, steps) if cache else None

    def probe(n: int = 3) -> list[float]:
        res = nst.optimize(
            obj, content=content, style=style, steps=n, record_every=1, progress=False, **opts
        )
        return res.history.total[:n, 0].tolist()

    ref = _cached(path, probe)
    if ref is not None:
        return ref
    say(
        f"    running the Berkeley reference: Adam x {steps} at {content.shape[1]}x"
        f"{content.shape[0]} (minutes on a CPU)"
    )
    curve = quality.delivered_curve(
        content,
        style,
        steps=steps,
        objective=obj,
        at=[1, 5, 10, 25, 50, 100, 200, 300, 400, 600, 800, 1000],
        **opts,
    )
    ref = {
        "evaluations": curve.evaluations,
        "delivered": curve.delivered.tolist(),
        "final": float(curve.result.losses["total"][0]),
        "seconds": curve.result.seconds,
        "probe": curve.result.history.total[:3, 0].tolist(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    _store(path, ref)
    return ref


def case(
    name: str, size: int, *, budget: int, target: int, peer_evals: int, cache: bool, curves: dict
) -> list[Result]:
    """One pair at one size: the peer's level and the evaluations the project needs."""
    content, style = common.pair(name, size)
    obj = common.objective(content.shape[:2])
    ref = peer_reference(content, style, obj, budget=peer_evals, cache=cache)
    level = ref["final"]
    t0 = time.perf_counter()
    cur = quality.delivered_curve(
        content,
        style,
        steps=budget,
        objective=obj,
        until=level,
        weights=common.WEIGHTS,
        device="cpu",
    )
    seconds = time.perf_counter() - t0
    need = cur.evaluations_to_reach(level)
    h, w = content.shape[:2]
    label = f"{name} {w}x{h}"
    curves[label] = {
        "peer": (ref["evaluations"], ref["delivered"]),
        "project": (cur.evaluations, cur.delivered.tolist()),
    }
    curves.setdefault("_runs", {})[label] = cur
    last = cur.evaluations[-1]
    at_end = cur.at(last)
    marks = ", ".join(f"{cur.at(m):.5g} @{m}" for m in (10, 50, 100) if m < last)
    say(
        f"[3] {label}: peer delivered {level:.5g} after {ref['used']} evaluations; project "
        f"{marks + ', ' if marks else ''}{at_end:.5g} @{last} -> reaches it at {need} "
        f"(project run {seconds:.0f} s, stopped there)"
    )
    return [
        Result(
            f"3. {label}: evals to peer's {peer_evals}-eval delivered loss",
            need if need is not None else NAN,
            "evals",
            f"<= {target}",
            need is not None and need <= target,
            f"peer {level:.5g} ({ref['used']} evals, torch LBFGS strong Wolfe, history "
            f"100); project @{last}: {at_end:.5g} ({at_end / level:.3f}x; the run stops when "
            f"it reaches the level, at most {budget} evals)",
            extra={
                "level": level,
                "project": {
                    "evaluations": cur.evaluations,
                    "delivered": cur.delivered.tolist(),
                    "iterate": cur.iterate.tolist(),
                },
                "peer": ref,
            },
        )
    ]


def old_loop(*, size: int, evals: int, curves: dict) -> list[Result]:
    """3c. What the previous loop (unconstrained L-BFGS, clamped at the end: ``bounded=False``)
    delivers after ``evals`` evaluations, and how many the default loop needs for it."""
    name = TUBINGEN
    content, style = common.pair(name, size)
    obj = common.objective(content.shape[:2])
    h, w = content.shape[:2]
    old = quality.delivered_curve(
        content,
        style,
        steps=evals,
        objective=obj,
        weights=common.WEIGHTS,
        device="cpu",
        bounded=False,
    )
    new = curves.get("_runs", {}).get(f"{name} {w}x{h}")
    if new is None or new.evaluations[-1] < evals:
        new = quality.delivered_curve(
            content, style, steps=evals, objective=obj, weights=common.WEIGHTS, device="cpu"
        )
    curves.setdefault(f"{name} {w}x{h}", {})["project, bounded=False (old loop)"] = (
        old.evaluations,
        old.delivered.tolist(),
    )
    level = old.at(evals)
    need = new.evaluations_to_reach(level)
    marks = [m for m in (50, 100, 150, 200, 300) if m <= evals]
    pairs = {m: new.evaluations_to_reach(old.at(m)) for m in marks}
    table = ", ".join(f"old {m} -> new {n}" for m, n in pairs.items())
    say(f"[3c] evaluations of the default loop for the old loop's delivered loss: {table}")
    say(
        f"[3c] old loop (bounded=False) delivers {level:.5g} after {evals} evaluations; the "
        f"default loop reaches it at {need} (and delivers {new.at(evals):.5g} after {evals})"
    )
    return [
        Result(
            f"3c. evals the default loop needs for the old loop's {evals}-eval delivered loss",
            need if need is not None else NAN,
            "evals",
            "(reported)",
            None,
            f"{w}x{h}; old loop {level:.5g} @{evals}; default loop {new.at(evals):.5g} @{evals}; "
            f"{table}",
            extra={
                "old": {"evaluations": old.evaluations, "delivered": old.delivered.tolist()},
                "old_to_new": pairs,
            },
        )
    ]


def berkeley(
    *, size: int, steps: int, budget: int, target: int, cache: bool, curves: dict
) -> list[Result]:
    from helpers import nst

    name = TUBINGEN
    content, style = common.pair(name, size)
    obj = common.objective(content.shape[:2])
    ref = adam_reference(content, style, obj, steps=steps, cache=cache)
    h, w = content.shape[:2]
    cur = curves.get("_runs", {}).get(f"{name} {w}x{h}")  # the case's run, if it got there
    if cur is None or cur.evaluations_to_reach(ref["final"]) is None:
        cur = quality.delivered_curve(
            content,
            style,
            steps=budget,
            objective=obj,
            until=ref["final"],
            weights=common.WEIGHTS,
            device="cpu",
        )
    need = cur.evaluations_to_reach(ref["final"])
    curves[f"{name} {w}x{h}"][f"Adam lr {nst.BERKELEY_LR:g}"] = (
        ref["evaluations"] + [steps],
        ref["delivered"] + [ref["final"]],
    )
    say(
        f"[3b] Berkeley Adam x {steps}: delivered {ref['final']:.5g}; project reaches it at "
        f"{need} (delivered {cur.at(need or budget):.5g} there)"
    )
    return [
        Result(
            f"3b. evals to Berkeley Adam x{steps} delivered loss ({w}x{h})",
            need if need is not None else NAN,
            "evals",
            f"<= {target}",
            need is not None and need <= target,
            f"Adam lr {nst.BERKELEY_LR:g} delivered {ref['final']:.5g}; project "
            f"@{need or budget}: {cur.at(need or budget):.5g}",
            extra={"level": ref["final"], "adam": ref},
        )
    ]


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), dpi=100, squeeze=False)
    for ax, (label, lines) in zip(axes[0], curves.items()):
        for who, (x, y) in lines.items():
            ax.plot(x, y, label=who, lw=1.4)
        ax.set(yscale="log", xlabel="evaluations", title=label)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("delivered loss (clamped, 8-bit)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def table(curves: dict, marks=(10, 25, 50, 100, 150, 200, 300)) -> str:
    lines = []
    for label, lines_ in curves.items():
        lines.append(f"    {label}: delivered loss at " + ", ".join(str(m) for m in marks))
        for who, (x, y) in lines_.items():
            cells = []
            for m in marks:
                idx = [i for i, e in enumerate(x) if e <= m]
                cells.append(f"{y[idx[-1]]:.4g}" if idx and x[-1] >= m else "-")
            lines.append(f"      {who:>14}: " + "  ".join(cells))
    return "\n".join(lines)


def run(quick: bool = False) -> list[Result]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(common.threads())
    curves: dict = {}
    results: list[Result] = []
    try:
        if quick:
            results += case(
                TUBINGEN,
                48,
                budget=20,
                target=10,
                peer_evals=20,
                cache=False,
                curves=curves,
            )
            results += berkeley(size=48, steps=30, budget=20, target=10, cache=False, curves=curves)
            results += old_loop(size=48, evals=20, curves=curves)
        else:
            for size in SIZES:
                for name in common.PAIRS:
                    results += case(
                        name,
                        size,
                        budget=TARGET,
                        target=TARGET,
                        peer_evals=PEER_EVALS,
                        cache=True,
                        curves=curves,
                    )
            results += berkeley(
                size=128,
                steps=1200,
                budget=BERKELEY_TARGET,
                target=BERKELEY_TARGET,
                cache=True,
                curves=curves,
            )
            if os.environ.get("BENCH_OLD_LOOP") == "1":
                results += old_loop(size=128, evals=BERKELEY_TARGET, curves=curves)
    finally:
        torch.set_num_threads(previous)
    curves.pop("_runs", None)
    png = RESULTS_DIR / ("quality-curves-quick.png" if quick else "quality-curves.png")
    plot(curves, png)
    say(table(curves))
    say(f"    curves: {png}")
    if quick:
        for r in results:
            if r.ok is not None:
                r.ok, r.target = None, "(full run only)"
    return results
