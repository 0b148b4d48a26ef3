"""The start-up report: what runs (endpoints, subscriptions, cron jobs) and what does not."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from motia_core.project import Project

__all__ = ("print_startup",)


def print_startup(project: Project, url: str, root: Path, skipped: Mapping[str, str],
                  console: Console | None = None) -> None:
    """``skipped``: language -> why its runner did not start."""
    console = console or Console(stderr=True)
    table = Table(title=f"motia-core on {url}", title_justify="left")
    for column in ("kind", "step", "trigger", "language", "file"):
        table.add_column(column)
    for route in project.api_routes:
        table.add_row("api", route.step.name, f"{route.method} {route.path}",
                      route.step.language, _rel(route.step.file, root))
    for step in project.event_steps:
        table.add_row("event", step.name, ", ".join(step.subscribes), step.language,
                      _rel(step.file, root))
    for step in project.cron_steps:
        table.add_row("cron", step.name, step.config.cron,  # type: ignore[union-attr]
                      step.language, _rel(step.file, root))
    for step in project.noop_steps:
        table.add_row("noop", step.name, "-", step.language, _rel(step.file, root))
    console.print(table)
    for file, language in project.skipped.items():
        reason = skipped.get(language, f"no {language} runner")
        console.print(f"[yellow]skipped[/yellow] {_rel(file, root)}: {reason}")
    if project.errors:
        console.print(f"[red]{project.report_errors()}[/red]")


def _rel(text: str, root: object) -> str:
    prefix = f"{root}/"
    return text.replace(prefix, "")
