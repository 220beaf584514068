"""Run every ``benchmarks/bench_*.py`` (or those named), print a table, write JSON results.

python -m benchmarks            # all but those run only by name (scales)
python -m benchmarks blend      # only bench_blend.py
python -m benchmarks --quick    # fewer repeats, smaller sizes (a smoke run of the harness)
python -m benchmarks --markdown benchmarks/RESULTS.md   # also write the tables as Markdown
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

from .common import format_markdown, format_table, machine, write_results


def _module(topic: str):
    return importlib.import_module(f"benchmarks.bench_{topic}")


def _available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def default_topics() -> list[str]:
    """What ``python -m benchmarks`` (``make bench``) runs: every topic but those whose module
    sets ``EXPLICIT = True`` (runs of an hour, run only when named)."""
    return [t for t in _available() if not getattr(_module(t), "EXPLICIT", False)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("topics", nargs="*", help="bench_<topic>.py modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent
    available = _available()
    topics = args.topics or default_topics()
    unknown = sorted(set(topics) - set(available))
    if unknown:
        print(
            f"error: unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    info = machine()
    print(
        f"machine: {info['processor']}, {info['cpu_count']} CPUs, "
        f"device {info['device']}, torch {info.get('torch')}"
    )
    missed = 0
    sections = {}
    start = time.perf_counter()
    for topic in topics:
        t0 = time.perf_counter()
        print(f"\n== {topic} ==", flush=True)
        module = _module(topic)
        results = module.run(quick=args.quick)
        print(format_table(results))
        path = write_results(topic, results)
        print(
            f"({time.perf_counter() - t0:.0f} s; results in {path.relative_to(here.parent)})",
            flush=True,
        )
        missed += sum(1 for r in results if r.ok is False)
        sections[topic] = results
    if args.markdown:
        intro = getattr(_module(topics[0]), "MARKDOWN_INTRO", None) if len(topics) == 1 else None
        args.markdown.write_text(
            format_markdown(sections, info, time.perf_counter() - start, intro)
        )
        print(f"tables written to {args.markdown}")
    print(f"\n{missed} target(s) missed" if missed else "\nall targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
