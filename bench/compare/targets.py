"""Issue 8's and issue 20's targets, each read off the figures of the same run as a ratio and a
verdict.

A target whose figures are missing (the original could not be installed or run, a scenario
failed) gets the verdict "n/a" with the reason, never a silent pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .contenders import (
    BARE,
    HANDBUILT,
    ORIGINAL,
    OURS,
    OURS_ALL,
    OURS_REDIS,
    OURS_REDIS_ALL,
)
from .figures import Figure, Scalar
from .scenarios import COLD, GET_BARE, GET_PY, GET_TS, MEMORY, PIPELINE, WRK_BARE, WRK_PY, WRK_TS

__all__ = ("Verdict", "evaluate")

COLD_LIMIT_S = 1.5
P50_LIMIT_MS = 5.0
P50_AT_1_LIMIT_MS = 1.5  # issue 20
WRK_RATIO = 0.4  # issue 20: an api step under wrk >= 0.4 of bare aiohttp
ALL_CORES_RATIO = 1.6  # issue 20: --processes 2 >= 1.6x one process


@dataclass(frozen=True)
class Verdict:
    target: str
    reading: str  # how the value was obtained, with the figures it came from
    value: float
    verdict: str  # "met", "NOT met" or "n/a: <why>"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Book:
    def __init__(self, figures: Sequence[Figure], scalars: Sequence[Scalar]) -> None:
        self.figures = {(f.scenario, f.contender, f.in_flight): f for f in figures}
        self.scalars = {(s.scenario, s.contender): s for s in scalars}

    def rate(self, scenario: str, contender: str, c: int) -> tuple[float, str | None]:
        figure = self.figures.get((scenario, contender, c))
        if figure is None or not figure.ok:
            return math.nan, (figure.unavailable if figure else None) or f"no {contender} figure"
        return figure.rate, None

    def p50(self, scenario: str, contender: str, c: int) -> tuple[float, str | None]:
        figure = self.figures.get((scenario, contender, c))
        if figure is None or not figure.ok:
            return math.nan, (figure.unavailable if figure else None) or f"no {contender} figure"
        return figure.p50_ms, None

    def p99(self, scenario: str, contender: str, c: int) -> tuple[float, str | None]:
        figure = self.figures.get((scenario, contender, c))
        if figure is None or not figure.ok:
            return math.nan, (figure.unavailable if figure else None) or f"no {contender} figure"
        return figure.p99_ms, None

    def scalar(self, scenario: str, contender: str, peak: bool = False,
               ) -> tuple[float, str | None]:
        found = self.scalars.get((scenario, contender))
        if found is None or not found.ok:
            return math.nan, (found.unavailable if found else None) or f"no {contender} figure"
        return (max(found.values) if peak else found.median), None


def _f(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _verdict(target: str, reading: str, value: float, why: str | None,
             passes: Callable[[float], bool]) -> Verdict:
    if why is not None:
        return Verdict(target, reading, value, f"n/a: {why[:120]}")
    return Verdict(target, reading, value, "met" if passes(value) else "NOT met")


_BARE_OF = {GET_TS: GET_BARE, GET_PY: GET_BARE, WRK_TS: WRK_BARE, WRK_PY: WRK_BARE}


def _ratio(book: _Book, target: str, scenario: str, top: str, bottom: str, c: int,
           passes: Callable[[float], bool]) -> Verdict:
    a, why_a = book.rate(scenario if top != BARE else _BARE_OF.get(scenario, scenario), top, c)
    b, why_b = book.rate(scenario if bottom != BARE else _BARE_OF.get(scenario, scenario),
                         bottom, c)
    value = a / b if not (why_a or why_b) and b > 0 else math.nan
    reading = f"{top} {_f(a)}/s / {bottom} {_f(b)}/s at {c} in flight"
    return _verdict(target, reading, value, why_a or why_b, passes)


def _issue_20(book: _Book) -> list[Verdict]:
    out = [_ratio(book, "#20 pipeline at 32, one process, SQLite >= 1/3 of bare", PIPELINE,
                  OURS, BARE, 32, lambda v: v >= 1 / 3)]
    p50, why = book.p50(PIPELINE, OURS, 1)
    out.append(_verdict(f"#20 pipeline at 1 in flight: p50 <= {P50_AT_1_LIMIT_MS:g} ms",
                        f"{OURS} p50 at 1 in flight (ms)", p50, why,
                        lambda v: v <= P50_AT_1_LIMIT_MS))
    for c in (1, 32):
        out.append(_ratio(book, "#20 motia-core on Redis (one process) >= hand-built events/s",
                          PIPELINE, OURS_REDIS, HANDBUILT, c, lambda v: v >= 1))
        ours, why_ours = book.p99(PIPELINE, OURS_REDIS, c)
        theirs, why_theirs = book.p99(PIPELINE, HANDBUILT, c)
        out.append(_verdict("#20 motia-core on Redis (one process): p99 no worse than hand-built",
                            f"{OURS_REDIS} {_f(ours, 2)} ms / {HANDBUILT} {_f(theirs, 2)} ms "
                            f"p99 at {c} in flight (ratio)",
                            ours / theirs if theirs else math.nan, why_ours or why_theirs,
                            lambda v: v <= 1))
    for c in (1, 32):
        out.append(_ratio(book, "#20 motia-core on Redis with all cores >= hand-built events/s",
                          PIPELINE, OURS_REDIS_ALL, HANDBUILT, c, lambda v: v >= 1))
    ours, why_ours = book.p99(PIPELINE, OURS_REDIS_ALL, 32)
    theirs, why_theirs = book.p99(PIPELINE, HANDBUILT, 32)
    out.append(_verdict("#20 motia-core on Redis with all cores: p99 no worse than hand-built",
                        f"{OURS_REDIS_ALL} {_f(ours, 2)} ms / {HANDBUILT} {_f(theirs, 2)} ms "
                        "p99 at 32 in flight (ratio)",
                        ours / theirs if theirs else math.nan, why_ours or why_theirs,
                        lambda v: v <= 1))
    for every, one in ((OURS_ALL, OURS), (OURS_REDIS_ALL, OURS_REDIS)):
        out.append(_ratio(book, f"#20 pipeline with all cores >= {ALL_CORES_RATIO:g}x one "
                          f"process ({one})", PIPELINE, every, one, 32,
                          lambda v: v >= ALL_CORES_RATIO))
    for scenario, label in ((WRK_TS, "TS"), (WRK_PY, "Python")):
        out.append(_ratio(book, f"#20 wrk GET, {label} api step >= {WRK_RATIO:g} of bare",
                          scenario, OURS, BARE, 32, lambda v: v >= WRK_RATIO))
    return out


def evaluate(figures: Sequence[Figure], scalars: Sequence[Scalar]) -> list[Verdict]:
    """Every target whose figures were measured in this run (``--only`` leaves some out)."""
    book = _Book(figures, scalars)
    out: list[Verdict] = []
    for c in (1, 32):
        out.append(_ratio(book, "Python api step >= 100x original req/s", GET_PY, OURS,
                          ORIGINAL, c, lambda v: v >= 100))
    for c in (1, 32):
        out.append(_ratio(book, "Python api step within 3x of bare aiohttp", GET_PY, BARE,
                          OURS, c, lambda v: v <= 3))
    for c in (1, 32):
        out.append(_ratio(book, "TS api step >= 100x original req/s", GET_TS, OURS, ORIGINAL,
                          c, lambda v: v >= 100))
    for c in (1, 32):
        out.append(_ratio(book, "pipeline >= 100x original events/s", PIPELINE, OURS,
                          ORIGINAL, c, lambda v: v >= 100))
    for c in (1, 32):
        p50, why = book.p50(PIPELINE, OURS, c)
        out.append(_verdict(f"pipeline p50 end to end < {P50_LIMIT_MS:g} ms",
                            f"{OURS} p50 at {c} in flight (ms)", p50, why,
                            lambda v: v < P50_LIMIT_MS))
    cold, why = book.scalar(COLD, OURS)
    out.append(_verdict(f"cold start < {COLD_LIMIT_S:g} s with two runners",
                        f"{OURS} median (s)", cold, why, lambda v: v < COLD_LIMIT_S))
    theirs, why_theirs = book.scalar(COLD, ORIGINAL)
    out.append(_verdict("cold start under the original's",
                        f"{OURS} {_f(cold, 2)} s / {ORIGINAL} {_f(theirs, 2)} s (ratio)",
                        cold / theirs if theirs else math.nan, why or why_theirs,
                        lambda v: v < 1))
    mine, why = book.scalar(MEMORY, OURS, peak=True)
    theirs, why_theirs = book.scalar(MEMORY, ORIGINAL, peak=True)
    out.append(_verdict("peak memory (pipeline) under the original's",
                        f"{OURS} {_f(mine, 0)} MiB / {ORIGINAL} {_f(theirs, 0)} MiB (ratio)",
                        mine / theirs if theirs else math.nan, why or why_theirs,
                        lambda v: v < 1))
    out += _issue_20(book)
    measured = {f.scenario for f in figures} | {s.scenario for s in scalars}
    return [v for v in out if _scenario_of(v, measured)]


def _scenario_of(verdict: Verdict, measured: set[str]) -> bool:
    """Keep a verdict when its scenario was part of this run."""
    text = verdict.target
    if "wrk" in text:
        return bool(measured & {WRK_TS, WRK_PY})
    if "pipeline" in text or "Redis" in text:
        return PIPELINE in measured
    if "cold start" in text:
        return COLD in measured
    if "api step" in text:
        return bool(measured & {GET_TS, GET_PY})
    return True
