"""What one measured run yields and how several runs fold into a median with its spread.

Every scenario produces ``Run``s (one per repetition); a ``Figure`` keeps all of them (they go
into the JSON file as they are) and exposes the median of each quantity plus its min..max, so a
reader can tell a steady figure from a noisy one on a small shared machine.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ("Figure", "Run", "Scalar", "percentile")


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples; NaN when there are none."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = min(max(1, math.ceil(q / 100 * len(ordered))), len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Run:
    """One repetition: ``ok`` completions out of ``asked`` in ``elapsed_s``; latencies in ms."""

    asked: int
    ok: int
    errors: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    capped: bool = False  # the run hit its time cap before every request completed
    lost: int = 0  # accepted (200) but never seen completing within the item cap

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @classmethod
    def of(cls, asked: int, latencies_ms: Sequence[float], errors: int, elapsed_s: float,
           *, capped: bool = False, lost: int = 0) -> Run:
        return cls(asked, len(latencies_ms), errors, elapsed_s, percentile(latencies_ms, 50),
                   percentile(latencies_ms, 99), capped, lost)


@dataclass
class Figure:
    """One scenario for one contender at one concurrency: every run, or why there are none."""

    scenario: str
    contender: str
    in_flight: int
    per_run: int
    runs: list[Run] = field(default_factory=list)
    unavailable: str | None = None  # the reason the contender could not be measured here
    note: str = ""

    def _median(self, values: Sequence[float]) -> float:
        finite = [v for v in values if not math.isnan(v)]
        return statistics.median(finite) if finite else math.nan

    @property
    def ok(self) -> bool:
        return self.unavailable is None and any(r.ok for r in self.runs)

    @property
    def rate(self) -> float:
        return self._median([r.rate for r in self.runs])

    @property
    def rate_spread(self) -> tuple[float, float]:
        rates = [r.rate for r in self.runs]
        return (min(rates), max(rates)) if rates else (math.nan, math.nan)

    @property
    def p50_ms(self) -> float:
        return self._median([r.p50_ms for r in self.runs])

    @property
    def p99_ms(self) -> float:
        return self._median([r.p99_ms for r in self.runs])

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.runs)

    @property
    def capped(self) -> bool:
        return any(r.capped for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        summary = {"rate_per_s": self.rate, "rate_min": self.rate_spread[0],
                   "rate_max": self.rate_spread[1], "p50_ms": self.p50_ms,
                   "p99_ms": self.p99_ms, "errors": self.errors, "lost": self.lost,
                   "capped": self.capped}
        return {"scenario": self.scenario, "contender": self.contender,
                "in_flight": self.in_flight, "per_run": self.per_run,
                "unavailable": self.unavailable, "note": self.note,
                "median": None if not self.ok else summary,
                "runs": [{**asdict(r), "rate_per_s": r.rate} for r in self.runs]}


@dataclass
class Scalar:
    """A quantity measured once per run (cold start seconds, peak memory MiB): median and range."""

    scenario: str
    contender: str
    unit: str
    values: list[float] = field(default_factory=list)
    unavailable: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.unavailable is None and bool(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.values), max(self.values)) if self.values else (math.nan, math.nan)

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "contender": self.contender, "unit": self.unit,
                "values": self.values, "median": self.median if self.ok else None,
                "min": self.spread[0], "max": self.spread[1],
                "unavailable": self.unavailable, "note": self.note}
