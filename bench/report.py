"""Percentiles and the plain-text table the benchmark prints (no dependencies, no colour)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ("Row", "median_row", "percentile", "render")


@dataclass(frozen=True)
class Row:
    """One measured configuration: latencies are per call, throughput is for the whole batch."""

    mode: str
    in_flight: int
    calls: int
    p50_us: float
    p99_us: float
    calls_per_s: float


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples."""
    ordered = sorted(samples)
    rank = min(max(1, math.ceil(q / 100 * len(ordered))), len(ordered))
    return ordered[rank - 1]


def median_row(rows: Sequence[Row]) -> Row:
    """Median of each figure over repeated runs, so one noisy run on a shared machine is ignored."""
    first = rows[0]
    return Row(
        mode=first.mode,
        in_flight=first.in_flight,
        calls=sum(r.calls for r in rows),
        p50_us=statistics.median(r.p50_us for r in rows),
        p99_us=statistics.median(r.p99_us for r in rows),
        calls_per_s=statistics.median(r.calls_per_s for r in rows),
    )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def render(rows: Sequence[Row], ratios: Sequence[tuple[str, float]]) -> str:
    header = ("mode", "in flight", "calls", "p50 us", "p99 us", "calls/s")
    body = [(r.mode, str(r.in_flight), str(r.calls), _fmt(r.p50_us), _fmt(r.p99_us),
             _fmt(r.calls_per_s)) for r in rows]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest))

    out = [line(header), line(["-" * w for w in widths]), *(line(b) for b in body), ""]
    label_width = max(len(label) for label, _ in ratios)
    out += [f"{label.ljust(label_width)}  {_fmt(value)}x" for label, value in ratios]
    return "\n".join(out)
