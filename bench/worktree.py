"""A git ref checked out beside the working tree, for the A/B benchmarks (ab.py, cpu_ab.py,
runner_ab.py): the same measurement on the base and on the tree, interleaved in one run."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ("REPO", "checkout")

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
