"""Issue 8's targets, each read off the figures of the same run as a ratio and a verdict.

A target whose figures are missing (the original could not be installed or run, a scenario
failed) gets the verdict "n/a" with the reason, never a silent pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .contenders import BARE, ORIGINAL, OURS
from .figures import Figure, Scalar
from .scenarios import COLD, GET_BARE, GET_PY, GET_TS, MEMORY, PIPELINE

__all__ = ("Verdict", "evaluate")

COLD_LIMIT_S = 1.5
P50_LIMIT_MS = 5.0


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


def _ratio(book: _Book, target: str, scenario: str, top: str, bottom: str, c: int,
           passes: Callable[[float], bool]) -> Verdict:
    a, why_a = book.rate(scenario if top != BARE else GET_BARE, top, c)
    b, why_b = book.rate(scenario if bottom != BARE else GET_BARE, bottom, c)
    value = a / b if not (why_a or why_b) and b > 0 else math.nan
    reading = f"{top} {_f(a)}/s / {bottom} {_f(b)}/s at {c} in flight"
    return _verdict(target, reading, value, why_a or why_b, passes)


def evaluate(figures: Sequence[Figure], scalars: Sequence[Scalar]) -> list[Verdict]:
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
    return out
