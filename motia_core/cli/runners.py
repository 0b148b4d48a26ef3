"""`motia runners list` and `motia runners check`: the registered runners, and the kit.

Thin, like the rest of the CLI: the registry comes from ``runners.plugins``, the checking from
``conformance``. ``main.py`` adds this group with ``main.add_command(runners)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import click
from rich.console import Console
from rich.table import Table

from motia_core.project.runtimes import missing_runtimes
from motia_core.runners.plugins import (
    PROJECT_SOURCE,
    RunnerConfigError,
    load_registry,
    pin_project,
    registry_for_project,
)
from motia_core.runners.spec import RunnerRegistry, RunnerSpec

__all__ = ("runners",)

_project = click.option(
    "--project", "project", type=click.Path(file_okay=False, path_type=Path), default=".",
    envvar="MOTIA_PROJECT", show_envvar=True, show_default=True,
    help="The project's root folder (its motia.toml may register runners).",
)
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group()
def runners() -> None:
    """Language runners: which are registered and where from, and the conformance kit."""


@runners.command("list")
@_project
@_json
def list_runners(project: Path, as_json: bool) -> None:
    """Each runner: language, file patterns, where it came from, its command, whether present."""
    root = project.resolve()
    registry, problems = load_registry(root)
    rows = [_row(spec, root) for spec in registry]
    missing = [m.message for m in missing_runtimes(root, registry)] if root.is_dir() else []
    if as_json:
        click.echo(json.dumps({"projectRoot": str(root), "runners": rows, "missing": missing,
                               "problems": problems}, indent=2))
    else:
        _render_list(root, rows, missing, problems)
    if problems:
        sys.exit(1)


def _row(spec: RunnerSpec, root: Path) -> dict[str, Any]:
    return {"language": spec.language, "patterns": list(spec.patterns), "source": spec.source,
            "command": spec.argv(root), "present": spec.executable_present(root),
            "installHint": spec.install_hint}


def _render_list(root: Path, rows: list[dict[str, Any]], missing: list[str],
                 problems: list[str]) -> None:
    console = Console()
    table = Table(title=f"Runners for {root}")
    for column in ("language", "patterns", "source", "command", "present"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["language"], " ".join(row["patterns"]), row["source"],
                      " ".join(row["command"]),
                      "yes" if row["present"] else "[red]no[/red]")
    console.print(table)
    for text in missing:
        console.print(f"[red]missing[/red] {text}")
    for text in problems:
        console.print(f"[red]error[/red] {text}")


@runners.command("check")
@click.argument("target", nargs=-1, required=True)
@_project
@_json
@click.option("--tier", "tiers", multiple=True, help="Only this tier (number or name); repeat "
              "for more. Default: all.")
@click.option("--exclude", "exclude", type=click.Path(dir_okay=False, path_type=Path),
              help="Exclusions file (TOML/JSON): scenario ids the runner does not claim.")
@click.option("--fixtures", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the runner's fixture steps [default: "
                   "protocol/conformance/steps/<language>].")
@click.option("--language", help="For a command: the language whose fixture steps to use.")
@click.option("-k", "--scenario", "only", multiple=True,
              help="Only scenario ids matching this glob (e.g. 'errors/*'); repeatable.")
@click.option("--jobs", type=int, help="Scenarios run at once [default: by CPU count].")
def check(target: tuple[str, ...], project: Path, as_json: bool, tiers: tuple[str, ...],
          exclude: Path | None, fixtures: Path | None, language: str | None,
          only: tuple[str, ...], jobs: int | None) -> None:
    """Drive runners through the conformance scenarios and print a scorecard.

    TARGET is one or more registered languages (`motia runners check python ruby`), or a
    command that speaks the protocol (`motia runners check --language perl -- perl runner.pl`).
    Exit status 1 when any claimed scenario fails.
    """
    from motia_core import conformance as kit

    root = project.resolve()
    try:
        registry = registry_for_project(root)
        specs = _targets(target, registry, root, language, fixtures)
        known = [s.id for t in kit.load_tiers(kit.conformance_dir() / "scenarios")
                 for s in t.scenarios]
        exclusions = kit.load_exclusions(exclude, known) if exclude else {}
    except (RunnerConfigError, kit.ExclusionError, kit.ScenarioError) as exc:
        raise click.UsageError(str(exc)) from exc
    cards = []
    for spec in specs:
        if not spec.executable_present(root):
            raise click.ClickException(f"cannot check the {spec.language} runner: "
                                       f"{spec.argv(root)[0]!r} is not installed. "
                                       f"{spec.install_hint}".strip())
        try:
            cards.append(anyio.run(_check, spec, fixtures, tiers, exclusions, only, jobs))
        except (kit.FixtureError, ValueError) as exc:
            raise click.UsageError(str(exc)) from exc
    if as_json:
        payload = cards[0].to_json() if len(cards) == 1 else {"runners": [c.to_json()
                                                                          for c in cards]}
        click.echo(json.dumps(payload, indent=2))
    else:
        for card in cards:
            card.render(Console())
    if not all(card.ok for card in cards):
        sys.exit(1)


async def _check(spec: RunnerSpec, fixtures: Path | None, tiers: tuple[str, ...],
                 exclusions: dict[str, str], only: tuple[str, ...], jobs: int | None) -> Any:
    from motia_core.conformance import check_runner

    return await check_runner(spec, fixtures=fixtures, tiers=tiers, exclusions=exclusions,
                              only=only, jobs=jobs)


def _targets(target: tuple[str, ...], registry: RunnerRegistry, root: Path,
             language: str | None, fixtures: Path | None) -> list[RunnerSpec]:
    if all(t in registry for t in target) and language is None:
        return [_pinned(registry.get(t), root) for t in target]
    if language is None and fixtures is None:
        known = ", ".join(spec.language for spec in registry)
        raise click.UsageError(
            f"{target[0]!r} is not a registered runner ({known}); to check a command, say "
            f"which fixture steps it runs: --language NAME (or --fixtures DIR) -- "
            f"{' '.join(target)}")
    # The runner's cwd will be the kit's scratch project: paths given relative to here must
    # keep pointing where the user meant.
    command = tuple(str(Path(arg).resolve()) if not arg.startswith("-") and Path(arg).exists()
                    else arg for arg in target)
    return [RunnerSpec(language=language or "custom", command=command, patterns=(),
                       source="command line")]


def _pinned(spec: RunnerSpec, root: Path) -> RunnerSpec:
    # Built-ins and packages ship their runner; a project's runner lives in the project.
    return pin_project(spec, root) if spec.source == PROJECT_SOURCE else spec
