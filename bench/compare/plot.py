"""The PNG: throughput, latency, cold start and memory of the three contenders side by side.

Log scales, because the contenders are orders of magnitude apart. matplotlib is optional: when
it is not installed the comparison still prints and writes its JSON, and ``draw`` says why no
picture was made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .contenders import (
    BARE,
    HANDBUILT,
    NAMES,
    ORIGINAL,
    OURS,
    OURS_ALL,
    OURS_REDIS,
    OURS_REDIS_ALL,
)
from .figures import Figure, Scalar
from .scenarios import COLD, GET_BARE, GET_PY, GET_TS, MEMORY, PIPELINE, WRK_BARE, WRK_PY, WRK_TS

__all__ = ("draw",)

CONTENDERS = NAMES
COLOURS = {OURS: "#2a7ab0", OURS_ALL: "#1d5680", OURS_REDIS: "#7fb8de",
           OURS_REDIS_ALL: "#4f96c4", HANDBUILT: "#b03a48", ORIGINAL: "#d9822b",
           BARE: "#7a7a7a"}
GROUPS = ((GET_TS, "GET TS api"), (GET_PY, "GET Py api"), (WRK_TS, "wrk GET TS api"),
          (WRK_PY, "wrk GET Py api"), (PIPELINE, "pipeline"))
_BARE_OF = {GET_TS: GET_BARE, GET_PY: GET_BARE, WRK_TS: WRK_BARE, WRK_PY: WRK_BARE}


def _lookup(figures: Sequence[Figure], scenario: str, contender: str, c: int) -> Figure | None:
    if contender == BARE:
        scenario = _BARE_OF.get(scenario, scenario)
    for f in figures:
        if (f.scenario, f.contender, f.in_flight) == (scenario, contender, c) and f.ok:
            return f
    return None


def _bars(ax: Any, labels: list[str], series: dict[str, list[float]], ylabel: str,
          title: str, *, log: bool = True) -> None:
    width = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        shown = [v if not math.isnan(v) and v > 0 else 0 for v in values]
        ax.bar(xs, shown, width, label=name, color=COLOURS.get(name, "#444"))
        for x, v in zip(xs, values, strict=True):
            missing = math.isnan(v) or v <= 0
            label = "n/a" if missing else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
            ax.text(x, 1 if missing else v, label, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    if log:
        ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 8 if log else high * 1.15)  # room for the legend and the labels
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", which="major", alpha=0.3)


def draw(path: Path, figures: Sequence[Figure], scalars: Sequence[Scalar],
         machine: str) -> str | None:
    """Write the PNG; returns why not when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib into .venv for the PNG)"
    # only what this run measured (``--only``, ``--no-...``): no columns or legends of n/a
    measured = {(f.scenario, f.in_flight) for f in figures} | {
        (scenario, f.in_flight) for f in figures for scenario, bare in _BARE_OF.items()
        if f.scenario == bare}
    keys = [(scenario, c) for scenario, _ in GROUPS for c in (1, 32)
            if (scenario, c) in measured]
    shorts = dict(GROUPS)
    labels = [f"{shorts[scenario]}\n{c} in flight" for scenario, c in keys]
    present = {f.contender for f in figures} | {s.contender for s in scalars}
    contenders = tuple(name for name in CONTENDERS if name in present) or CONTENDERS
    rates = {name: [f.rate if (f := _lookup(figures, s, name, c)) else math.nan
                    for s, c in keys] for name in contenders}
    p50s = {name: [f.p50_ms if (f := _lookup(figures, s, name, c)) else math.nan
                   for s, c in keys] for name in contenders}
    p99s = [[f.p99_ms if (f := _lookup(figures, s, name, c)) else math.nan for s, c in keys]
            for name in contenders]
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    _bars(axes[0][0], labels, rates, "per second (log)", "throughput (median of runs)")
    _bars(axes[0][1], labels, p50s, "ms (log)", "p50 latency (dots: p99)")
    for k, values in enumerate(p99s):
        width = 0.8 / len(contenders)
        xs = [i + (k - (len(contenders) - 1) / 2) * width for i in range(len(labels))]
        axes[0][1].scatter(xs, values, s=14, color="black", zorder=3,
                           label="p99" if k == 0 else None)
    by_key = {(s.scenario, s.contender): s for s in scalars if s.ok}
    for ax, scenario, unit, peak in ((axes[1][0], COLD, "s", False),
                                     (axes[1][1], MEMORY, "MiB", True)):
        scalar = {name: [(max(s.values) if peak else s.median)
                         if (s := by_key.get((scenario, name))) else math.nan]
                  for name in contenders}
        _bars(ax, [scenario], scalar, unit, scenario, log=False)
    for ax in (axes[0][0], axes[0][1], axes[1][0], axes[1][1]):
        ax.legend(fontsize=8)
    fig.suptitle(f"motia-core vs the original Motia 0.6.4, the hand-built stack and the bare "
                 f"limit ({machine})",
                 fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
