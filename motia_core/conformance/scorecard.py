"""The kit's verdict: per tier, per scenario, passed / failed (with the reason) / excluded.

``to_json()`` is the machine form (``motia runners check --json``); ``render()`` prints a rich
table for people. The score counts only what the runner claims: excluded scenarios (by its
exclusions file, or a capability it does not claim) are listed but neither pass nor fail.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ("Outcome", "ScenarioResult", "Scorecard", "TierSummary", "summarise")


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    tier: int
    title: str
    outcome: Outcome
    # Why it failed or is excluded; empty when it passed.
    reason: str = ""
    duration_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title,
                               "outcome": self.outcome.value, "durationMs": self.duration_ms}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class TierSummary:
    number: int
    name: str
    title: str
    results: tuple[ScenarioResult, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def to_json(self) -> dict[str, Any]:
        return {"tier": self.number, "name": self.name, "title": self.title,
                "passed": self.count(Outcome.PASSED), "failed": self.count(Outcome.FAILED),
                "excluded": self.count(Outcome.EXCLUDED),
                "scenarios": [r.to_json() for r in self.results]}


@dataclass(frozen=True)
class Scorecard:
    # What was checked: the language and the command line, and the runner's `initialize` result.
    language: str
    command: tuple[str, ...]
    tiers: tuple[TierSummary, ...]
    runner: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[ScenarioResult]:
        return [r for tier in self.tiers for r in tier.results]

    def count(self, outcome: Outcome) -> int:
        return sum(tier.count(outcome) for tier in self.tiers)

    @property
    def claimed(self) -> int:
        return self.count(Outcome.PASSED) + self.count(Outcome.FAILED)

    @property
    def score(self) -> float:
        """Percent of the claimed scenarios that passed (100.0 when none is claimed)."""
        claimed = self.claimed
        return 100.0 if claimed == 0 else 100.0 * self.count(Outcome.PASSED) / claimed

    @property
    def ok(self) -> bool:
        return self.count(Outcome.FAILED) == 0

    def failures(self) -> dict[str, str]:
        return {r.id: r.reason for r in self.results if r.outcome is Outcome.FAILED}

    def outcome(self, scenario_id: str) -> ScenarioResult:
        for result in self.results:
            if result.id == scenario_id:
                return result
        raise KeyError(f"no scenario {scenario_id!r} in this scorecard")

    def to_json(self) -> dict[str, Any]:
        return {"language": self.language, "command": list(self.command),
                "runner": self.runner, "score": round(self.score, 1), "ok": self.ok,
                "passed": self.count(Outcome.PASSED), "failed": self.count(Outcome.FAILED),
                "excluded": self.count(Outcome.EXCLUDED), "notes": self.notes,
                "tiers": [t.to_json() for t in self.tiers]}

    def render(self, console: Console | None = None) -> None:
        console = console or Console()
        name = (self.runner or {}).get("runner", {}).get("name", "no handshake")
        table = Table(title=f"Conformance of {self.language} ({name}): "
                            f"{' '.join(self.command)}", show_lines=False)
        for column in ("tier", "scenario", "result", "reason"):
            table.add_column(column, overflow="fold")
        for tier in self.tiers:
            for result in tier.results:
                table.add_row(f"{tier.number} {tier.name}", result.id.split("/", 1)[-1],
                              _badge(result.outcome), result.reason or result.title)
        console.print(table)
        for tier in self.tiers:
            passed, failed = tier.count(Outcome.PASSED), tier.count(Outcome.FAILED)
            excluded = tier.count(Outcome.EXCLUDED)
            console.print(f"  tier {tier.number} {tier.title}: {passed}/{passed + failed} passed"
                          + (f", {excluded} excluded" if excluded else ""))
        for note in self.notes:
            console.print(f"[yellow]note[/yellow] {note}")
        colour = "green" if self.ok else "red"
        console.print(f"[{colour}]score {self.score:.1f}%[/{colour}]: "
                      f"{self.count(Outcome.PASSED)} passed, {self.count(Outcome.FAILED)} failed, "
                      f"{self.count(Outcome.EXCLUDED)} excluded")


def _badge(outcome: Outcome) -> str:
    return {Outcome.PASSED: "[green]pass[/green]", Outcome.FAILED: "[red]FAIL[/red]",
            Outcome.EXCLUDED: "[yellow]excluded[/yellow]"}[outcome]


def summarise(tiers: Sequence[tuple[int, str, str]],
              results: Sequence[ScenarioResult]) -> tuple[TierSummary, ...]:
    """Results grouped by tier, in tier order; tiers with nothing selected are left out."""
    grouped = [TierSummary(n, name, title, tuple(r for r in results if r.tier == n))
               for n, name, title in tiers]
    return tuple(tier for tier in grouped if tier.results)
