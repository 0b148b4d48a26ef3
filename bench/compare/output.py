"""The comparison as a person reads it (rich tables) and as a machine keeps it (one JSON file).

Throughput cells are "median (min-max)" over the runs; latencies are the medians of each run's
p50 and p99. A contender that could not be measured keeps its rows, with the reason in place of
the figures, so a missing original never hides motia-core's figures.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .figures import Figure, Scalar
from .targets import Verdict

__all__ = ("console", "print_tables", "write_json")


def console() -> Console:
    """Wide enough for the tables when the output is a file or a pipe (make, CI logs)."""
    width = shutil.get_terminal_size((150, 40)).columns
    return Console(width=max(width, 150), highlight=False, soft_wrap=False)


def _num(value: float) -> str:
    """Three significant figures or so, thousands separated; "-" for a missing figure."""
    if math.isnan(value):
        return "-"
    for floor, form in ((100, ",.0f"), (10, ".1f"), (1, ".2f")):
        if abs(value) >= floor:
            return format(value, form)
    return f"{value:.3f}"


def _rate(figure: Figure) -> str:
    low, high = figure.rate_spread
    return f"{_num(figure.rate)} ({_num(low)}-{_num(high)})"


def _flow_table(title: str, figures: Sequence[Figure], unit: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for name, justify in (("scenario", "left"), ("contender", "left"), ("in flight", "right"),
                          ("runs x n", "right"), (f"{unit}/s median (min-max)", "right"),
                          ("p50 ms", "right"), ("p99 ms", "right"), ("notes", "left")):
        table.add_column(name, justify=justify,  # type: ignore[arg-type]
                         overflow="fold", max_width=60 if name == "notes" else None)
    previous = None
    for f in figures:
        label = f.scenario if f.scenario != previous else ""
        if f.scenario != previous and previous is not None:
            table.add_section()
        previous = f.scenario
        if not f.ok:
            table.add_row(label, f.contender, str(f.in_flight), f"- x {f.per_run}", "-", "-",
                          "-", f"[red]{f.unavailable or 'nothing completed'}[/red]")
            continue
        notes = [f.note] if f.note else []
        if f.errors:
            notes.append(f"{f.errors} of {len(f.runs) * f.per_run} failed")
        if f.lost:
            notes.append(f"{f.lost} of {len(f.runs) * f.per_run} accepted but never completed")
        if f.capped:
            notes.append("hit the time cap")
        table.add_row(label, f.contender, str(f.in_flight), f"{len(f.runs)} x {f.per_run}",
                      _rate(f), _num(f.p50_ms), _num(f.p99_ms), "; ".join(notes))
    return table


def _scalar_table(scalars: Sequence[Scalar]) -> Table:
    table = Table(title="Cold start and memory", title_justify="left")
    for name in ("figure", "contender", "value (median of runs; memory: peak)", "min-max",
                 "notes"):
        table.add_column(name, overflow="fold", max_width=70 if name == "notes" else None)
    for s in scalars:
        if not s.ok:
            table.add_row(s.scenario, s.contender, "-", "-", f"[red]{s.unavailable}[/red]")
            continue
        value = max(s.values) if s.unit == "MiB" else s.median
        low, high = s.spread
        table.add_row(s.scenario, s.contender, f"{_num(value)} {s.unit}",
                      f"{_num(low)}-{_num(high)}" if len(s.values) > 1 else "",
                      s.note)
    return table


def _target_table(verdicts: Sequence[Verdict]) -> Table:
    table = Table(title="Targets of issues 8 and 20 (same run)", title_justify="left")
    for name in ("target", "reading", "value", "verdict"):
        table.add_column(name, overflow="fold", max_width=70 if name == "reading" else None)
    for v in verdicts:
        colour = "green" if v.verdict == "met" else "red" if v.verdict == "NOT met" else "yellow"
        table.add_row(v.target, v.reading, _num(v.value), f"[{colour}]{v.verdict}[/{colour}]")
    return table


def print_tables(out: Console, flows: Sequence[Figure], limits: Sequence[Figure],
                 scalars: Sequence[Scalar], verdicts: Sequence[Verdict]) -> None:
    """The tables that have rows (``bench/ab.py`` has no raw limits and no targets)."""
    out.print(_flow_table("Throughput and latency (loopback, aiohttp client in the bench "
                          "process; pipeline latency = POST to the Python step's write)",
                          flows, "req|events"))
    out.print(_scalar_table(scalars))
    if limits:
        out.print(_flow_table("Raw limits (no HTTP): no-op step.invoke through each runner, "
                              "and the pipe floor", limits, "calls"))
    if verdicts:
        out.print(_target_table(verdicts))


def write_json(path: Path, header: dict[str, Any], flows: Sequence[Figure],
               limits: Sequence[Figure], scalars: Sequence[Scalar],
               verdicts: Sequence[Verdict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**header,
                "figures": [f.to_json() for f in flows],
                "raw_limits": [f.to_json() for f in limits],
                "cold_start_and_memory": [s.to_json() for s in scalars],
                "targets": [v.to_json() for v in verdicts]}
    path.write_text(json.dumps(_clean(document), indent=2, allow_nan=False) + "\n")


def _clean(value: Any) -> Any:
    """NaN (a figure that could not be taken) becomes null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
