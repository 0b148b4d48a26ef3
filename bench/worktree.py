"""A git ref checked out beside the working tree, for the A/B benchmarks (ab.py, cpu_ab.py,
runner_ab.py, bus_ab.py, http_ab.py): the same measurement on the base and on the tree,
interleaved in one run."""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

__all__ = ("REPO", "alternate", "checkout", "report")

REPO = Path(__file__).resolve().parent.parent


def checkout(ref: str, target: Path) -> str:
    """``ref`` checked out (detached) at ``target``, replacing what was there; its short commit."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref], check=True,
                            capture_output=True, text=True).stdout.strip()
    if target.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(target)],
                       check=False, capture_output=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--force",
                    str(target), commit], check=True, capture_output=True)
    return commit


def alternate(ref: str, base_tree: Path, runs: int,
              measure: Callable[[Path], float]) -> dict[str, list[float]]:
    """``ref`` checked out at ``base_tree``, then ``measure(source tree)`` of the base and of the
    working tree in turn, ``runs`` times each: {side: figures}, the base first."""
    commit = checkout(ref, base_tree)
    sides = {f"base {commit}": base_tree, "working tree": REPO}
    results: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, source in sides.items():
            results[name].append(measure(source))
    return results


def report(title: str, label: str, unit: str, results: dict[str, list[float]]) -> None:
    """Each side's median ``label`` in ``unit`` with its runs, and the tree/base ratio."""
    print(title)
    medians = []
    for name, runs in results.items():
        medians.append(statistics.median(runs))
        print(f"  {name:16} {label} {medians[-1]:6.1f} us/{unit}   (runs: "
              + ", ".join(f"{r:.0f}" for r in runs) + ")")
    print(f"  ratio tree/base: {label} per {unit} {medians[1] / medians[0]:.2f}x")
