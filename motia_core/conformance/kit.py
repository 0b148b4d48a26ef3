"""``check_runner``: every selected scenario against one runner, in parallel, into a scorecard.

Each scenario gets a fresh process (a broken scenario cannot spoil the next, and the ones that
end the process need nothing special), and a few run at once, so the whole kit takes seconds.
The fixture steps are copied once into a temporary project that all of them share; scenarios
only read it.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import anyio

from motia_core.conformance.driver import run_scenario
from motia_core.conformance.exclusions import excluded_by
from motia_core.conformance.fixtures import Fixtures, conformance_dir
from motia_core.conformance.scenarios import Scenario, Tier, load_tiers
from motia_core.conformance.scorecard import Outcome, ScenarioResult, Scorecard, summarise
from motia_core.runners.spec import RunnerSpec

__all__ = ("check_runner", "select_tiers", "default_jobs")


def default_jobs() -> int:
    """Scenarios at once: mostly waiting on pipes, but each is a process start."""
    return max(2, min(8, (os.cpu_count() or 2) * 2))


def select_tiers(tiers: list[Tier], wanted: Collection[str | int] | None) -> list[Tier]:
    """Tiers by number (``3``, ``"3"``) or name (``"callbacks"``); all when ``wanted`` is empty."""
    if not wanted:
        return tiers
    keys = {str(w).strip().lower() for w in wanted}
    chosen = [t for t in tiers if str(t.number) in keys or t.name in keys]
    unknown = keys - {str(t.number) for t in chosen} - {t.name for t in chosen}
    if unknown:
        known = ", ".join(f"{t.number} ({t.name})" for t in tiers)
        raise ValueError(f"unknown tier(s) {', '.join(sorted(unknown))}; the tiers are {known}")
    return chosen


async def check_runner(spec: RunnerSpec, *, fixtures: Path | None = None,
                       tiers: Collection[str | int] | None = None,
                       exclusions: Mapping[str, str] | None = None,
                       scenarios: Path | None = None, jobs: int | None = None,
                       only: Collection[str] = ()) -> Scorecard:
    """Run the kit against ``spec``'s command and score it.

    ``fixtures``: the folder of fixture steps (default: protocol/conformance/steps/<language>);
    ``exclusions``: pattern -> reason (see exclusions.py); ``only``: scenario id globs to run.
    """
    all_tiers = select_tiers(load_tiers(scenarios or conformance_dir() / "scenarios"), tiers)
    selected = [s for t in all_tiers for s in t.scenarios if _wanted(s, only)]
    source = fixtures or conformance_dir() / "steps" / spec.language
    info: dict[str, Any] = {}
    results: dict[str, ScenarioResult] = {}
    with tempfile.TemporaryDirectory(prefix=f"motia-conformance-{spec.language}-") as tmp:
        project = Path(tmp).resolve()
        installed = Fixtures.install(spec.language, source, project)
        limiter = anyio.CapacityLimiter(jobs or default_jobs())

        async def one(scenario: Scenario) -> None:
            async with limiter:
                results[scenario.id] = await run_scenario(scenario, spec, installed, info)

        async with anyio.create_task_group() as tg:
            for scenario in selected:
                reason = excluded_by(scenario.id, exclusions or {})
                if reason is not None:
                    results[scenario.id] = ScenarioResult(
                        scenario.id, scenario.tier, scenario.title, Outcome.EXCLUDED,
                        f"excluded by the exclusions file: {reason}")
                else:
                    tg.start_soon(one, scenario)
    ordered = [results[s.id] for s in selected]
    summary = summarise([(t.number, t.name, t.title) for t in all_tiers], ordered)
    return Scorecard(spec.language, tuple(spec.argv(project)), summary, info.get("result"))


def _wanted(scenario: Scenario, only: Collection[str]) -> bool:
    return not only or any(fnmatch.fnmatchcase(scenario.id, pattern) for pattern in only)
