"""Benchmarks: a registry of named figures, a robust timing method, and the runner.

``scripts/bench [--json] [--quick | --entries N] [--dir DIR] [NAME...]`` runs every
registered figure, or those named. See the contract (section "Benchmarks") for
the names and the JSON shape: figure name -> ``{"value": number, "unit": text}``, plus
``"ratio"`` and ``"ratio_to"`` where a figure is compared with a reference measured in
the same run (and ``"ref_value"``, that reference's own value, for the curious).

Adding a figure
---------------
Put it in a module of this package (``ssbmoney/bench/<topic>.py``) and decorate a
function taking a :class:`Config` and returning a :class:`Figure`::

    from ssbmoney.bench import Config, Figure, benchmark

    @benchmark("fold")
    def fold(cfg: Config) -> Figure: ...

Every module of this package is imported to find the figures (``discover``), even
when only others are run, so a module must import heavy things (textual, aiohttp,
...) inside its functions, never at its top: ``tests/test_bench.py`` checks that
discovery imports neither textual nor aiohttp. Work shared between figures of one
run (e.g. generated feeds) can be kept in ``cfg.cache``; files go under
``cfg.workdir`` (a fresh temporary directory, removed after the run).

Method: interleaved rounds, best rounds compared
------------------------------------------------
The machine this runs on is small and noisy: other processes come and go, so a
single long timing measures the neighbours as much as the code. Figures that carry
a ratio therefore time the reference (e.g. raw ``SigningKey.sign`` calls) and the
measured work in alternating rounds -- reference chunk, measured chunk, reference
chunk, ... -- so that a stretch of load falls on both sides alike, and each round
yields one rate per side (see :func:`interleave`). After the first few rounds the
reference chunk is sized to take about as long as a measured one (a measured round
is a fixed batch, e.g. 1,000 entries), so both face the same odds of being
preempted. Load only ever slows a round down, so the best rounds are the
ones closest to what the code can do. The figure is read off the best fifth of the
rounds (at least three), chosen by both sides at once -- each round scored by its
two rates, each relative to its side's median (:meth:`Rounds.best`) -- so the two
sides are compared over the same moments: the value and the reference's value are
the medians of their rates over those rounds, and the ratio is the median of those
rounds' own measured/reference ratios. Medians, so no single lucky round decides.

Why pairs, and not each side's best on its own: on this (virtual) machine speed
comes in regimes lasting seconds, and a busy neighbour slows interpreted Python
more than it slows libsodium's C, so a ratio is only meaningful between the two
sides measured in the same regime; picking rounds where both were fast compares
within the fastest regime the run saw. Generating inputs (keys, signed entries) is
never part of a timed chunk.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import pkgutil
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ENTRIES = 100_000
QUICK_ENTRIES = 10_000
BATCH = 1_000
CONTENT_SIZE = 300

CONTRACT_ORDER = (
    "append_durable",
    "verify_full",
    "verify_chain",
    "fold",
    "fold_update",
    "sync_initial",
    "sync_insync_bytes_10",
    "sync_insync_bytes_1000",
    "tui_first_paint",
    "tui_update",
    "audit",
    "pub_load",
)
"""The contract's order, used to print known figures; others follow as registered."""


@dataclass
class Figure:
    """One measured figure. ``extra`` holds further JSON fields (e.g. ``errors``)."""

    value: float
    unit: str
    ratio: float | None = None
    ratio_to: str | None = None
    ref_value: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": _num(self.value), "unit": self.unit}
        if self.ratio is not None:
            out["ratio"] = round(self.ratio, 4)
            out["ratio_to"] = self.ratio_to
        if self.ref_value is not None:
            out["ref_value"] = _num(self.ref_value)
        out.update(self.extra)
        return out


def _num(value: float) -> float | int:
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    return round(value, 3) if abs(value) < 1000 else round(value, 1)


@dataclass
class Config:
    """What every figure gets: sizes, a scratch directory and a cache for one run."""

    entries: int = DEFAULT_ENTRIES
    batch: int = BATCH
    content_size: int = CONTENT_SIZE
    quick: bool = False
    workdir: Path = Path(".")
    cache: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = lambda message: None

    @property
    def rounds(self) -> int:
        return max(1, self.entries // self.batch)


BenchFn = Callable[[Config], Figure]
BENCHMARKS: dict[str, BenchFn] = {}
"""The registry: figure name -> function. Filled by ``@benchmark`` at import."""


def benchmark(name: str) -> Callable[[BenchFn], BenchFn]:
    def register(fn: BenchFn) -> BenchFn:
        if name in BENCHMARKS and BENCHMARKS[name] is not fn:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = fn
        return fn

    return register


def discover() -> dict[str, BenchFn]:
    """Import every module of this package (they register their figures)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return BENCHMARKS


def ordered(names: Iterable[str]) -> list[str]:
    names = list(names)
    known = [n for n in CONTRACT_ORDER if n in names]
    return known + [n for n in names if n not in CONTRACT_ORDER]


# ----------------------------------------------------------------------- timing


def _top(count: int) -> int:
    """How many of ``count`` rounds count as the best: a fifth, at least three."""
    return min(count, max(3, count // 5))


def robust_rate(rates: list[float]) -> float:
    """For a figure without a reference: the median of the best fifth of its rounds."""
    if not rates:
        raise ValueError("no rounds were measured")
    return statistics.median(sorted(rates, reverse=True)[: _top(len(rates))])


@dataclass
class Rounds:
    """Per-round rates of a measured side and its reference, timed in alternation."""

    measured: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    def best(self) -> list[int]:
        """The rounds in which both sides ran fastest (the best fifth, at least three).

        A round's score is the sum of its two rates, each relative to its side's
        median, so a round counts as good only when neither side was held back.
        """
        count = len(self.measured)
        if count == 0 or len(self.reference) != count:
            raise ValueError("no rounds were measured")
        mid_m = statistics.median(self.measured)
        mid_r = statistics.median(self.reference)
        score = [m / mid_m + r / mid_r for m, r in zip(self.measured, self.reference, strict=True)]
        return sorted(range(count), key=score.__getitem__, reverse=True)[: _top(count)]

    def figure(self, unit: str, ratio_to: str, **extra: Any) -> Figure:
        best = self.best()
        value = statistics.median(self.measured[i] for i in best)
        ref = statistics.median(self.reference[i] for i in best)
        ratio = statistics.median(self.measured[i] / self.reference[i] for i in best)
        return Figure(value, unit, ratio, ratio_to, ref, dict(extra))


def interleave(
    rounds: int,
    reference: Callable[[int], int],
    measured: Callable[[int], int],
    between: Callable[[int], None] | None = None,
    reference_items: int = BATCH,
    calibrate: int = 3,
) -> Rounds:
    """Time ``reference(n)`` and ``measured(round)`` alternately, ``rounds`` times.

    ``reference(n)`` does ``n`` reference operations (``n <= reference_items``, the
    number it has inputs prepared for); ``measured(round)`` does one round of the
    measured work. Each returns how many items it processed; a rate is items per
    second of that one call. ``between(round)`` runs after each round, untimed (e.g.
    to flush a cache). For the first ``calibrate`` rounds the reference does
    ``reference_items`` operations; after that, as many as take about as long as a
    measured round (at least 16), so that both sides of a round face the same odds
    of being interrupted by another process.
    """
    result = Rounds()
    clock = time.perf_counter
    ref_n = reference_items
    ref_seconds: list[float] = []  # per item
    measured_seconds: list[float] = []  # per round
    gc.collect()
    for index in range(rounds):
        start = clock()
        count = reference(ref_n)
        elapsed = clock() - start
        result.reference.append(count / elapsed)
        ref_seconds.append(elapsed / count)
        start = clock()
        count = measured(index)
        elapsed = clock() - start
        result.measured.append(count / elapsed)
        measured_seconds.append(elapsed)
        if index + 1 == calibrate:
            per_item = statistics.median(ref_seconds)
            ref_n = round(statistics.median(measured_seconds) / per_item)
            ref_n = max(min(16, reference_items), min(reference_items, ref_n))
        if between is not None:
            between(index)
    return result


# ------------------------------------------------------------------------ runner


def _table(results: dict[str, Figure]) -> str:
    rows = [("figure", "value", "unit", "ratio", "reference")]
    for name, fig in results.items():
        ratio = f"{fig.ratio:.3f}" if fig.ratio is not None else ""
        ref = ""
        if fig.ratio_to is not None:
            ref = fig.ratio_to
            if fig.ref_value is not None:
                ref += f" ({fig.ref_value:,.0f})"
        rows.append((name, f"{fig.value:,.1f}", fig.unit, ratio, ref))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(w) if i in (1, 3) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Run ssbmoney's benchmarks (all, or those named).",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="figures to run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--entries",
        type=int,
        default=None,
        metavar="N",
        help=f"entries per figure, in whole batches of {BATCH:,} (default {DEFAULT_ENTRIES:,})",
    )
    size.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ENTRIES:,} entries")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to make the scratch directory (default: the system temp dir)",
    )
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return parser


def _fail(as_json: bool, kind: str, message: str, code: int) -> int:
    if as_json:
        print(json.dumps({"error": {"kind": kind, "message": message}}))
    print(f"bench: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    registry = discover()
    if args.list:
        print("\n".join(ordered(registry)))
        return 0
    unknown = [n for n in args.names if n not in registry]
    if unknown:
        return _fail(
            args.json,
            "bad_usage",
            f"unknown figure(s): {', '.join(unknown)} (known: {', '.join(ordered(registry))})",
            2,
        )
    if args.entries is not None and args.entries < 1:
        return _fail(args.json, "bad_usage", "--entries must be at least 1", 2)
    entries = QUICK_ENTRIES if args.quick else (args.entries or DEFAULT_ENTRIES)
    names = ordered(dict.fromkeys(args.names) if args.names else registry)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="ssbmoney-bench-", dir=args.dir))
    cfg = Config(entries=entries, quick=args.quick, workdir=workdir, log=log)
    results: dict[str, Figure] = {}
    try:
        for name in names:
            log(f"{name}: running ({entries:,} entries)")
            started = time.perf_counter()
            try:
                results[name] = registry[name](cfg)
            except Exception as err:
                traceback.print_exc(file=sys.stderr)
                return _fail(args.json, "benchmark_failed", f"{name}: {err!r}", 1)
            log(f"{name}: done in {time.perf_counter() - started:.1f} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps({name: fig.to_json() for name, fig in results.items()}, indent=2))
    else:
        print(_table(results))
    return 0
