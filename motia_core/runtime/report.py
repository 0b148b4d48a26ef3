"""The start-up report: what runs (endpoints, subscriptions, cron jobs) and what does not.

A table for people; under JSON logs (``--json-logs``, or stderr not a terminal) one log record
per line instead, so that every line on stderr is one JSON object.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from motia_core.observability.logs import output_is_json
from motia_core.project import Project

__all__ = ("print_startup",)

log = logging.getLogger("motia.app")


def print_startup(project: Project, url: str, root: Path, skipped: Mapping[str, str],
                  console: Console | None = None, workbench: str | None = None) -> None:
    """``skipped``: language -> why its runner did not start; ``workbench``: its URL, if served."""
    if console is None and output_is_json():
        _log_startup(project, url, root, skipped)
        if workbench is not None:
            log.info("Workbench on %s", workbench, extra={"action": "workbench", "url": workbench})
        return
    console = console or Console(stderr=True)
    table = Table(title=f"motia-core on {url}", title_justify="left")
    for column in ("kind", "step", "trigger", "language", "file"):
        table.add_column(column)
    for row in _served(project, root):
        table.add_row(*row)
    console.print(table)
    for file, language in project.skipped.items():
        reason = skipped.get(language, f"no {language} runner")
        console.print(f"[yellow]skipped[/yellow] {_rel(file, root)}: {reason}")
    if project.errors:
        console.print(f"[red]{project.report_errors()}[/red]")
    if workbench is not None:
        console.print(f"Workbench: [bold]{workbench}[/bold]")


def _served(project: Project, root: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(kind, step, trigger, language, file) of every step served."""
    for route in project.api_routes:
        yield ("api", route.step.name, f"{route.method} {route.path}", route.step.language,
               _rel(route.step.file, root))
    for step in project.event_steps:
        yield ("event", step.name, ", ".join(step.subscribes), step.language,
               _rel(step.file, root))
    for step in project.cron_steps:
        yield ("cron", step.name, step.config.cron,  # type: ignore[union-attr]
               step.language, _rel(step.file, root))
    for step in project.noop_steps:
        yield "noop", step.name, "-", step.language, _rel(step.file, root)


def _log_startup(project: Project, url: str, root: Path, skipped: Mapping[str, str]) -> None:
    """The report as log records: ``startup``, one ``step_ready`` per step served, one
    ``step_skipped`` per file of a language not started, one ``step_load_failed`` per problem."""
    log.info("motia-core on %s", url, extra={"action": "startup", "url": url})
    for kind, name, trigger, language, file in _served(project, root):
        log.info("%s %s: %s", kind, name, trigger, extra={
            "action": "step_ready", "step": name, "kind": kind, "trigger": trigger,
            "language": language, "file": file})
    for file, language in project.skipped.items():
        reason = skipped.get(language, f"no {language} runner")
        log.warning("skipped %s: %s", _rel(file, root), reason, extra={
            "action": "step_skipped", "file": _rel(file, root), "language": language})
    for file, problems in project.errors.items():
        for problem in problems:
            log.error("%s", problem.describe(root), extra={
                "action": "step_load_failed", "file": _rel(file, root), "field": problem.field,
                "hint": problem.hint})


def _rel(text: str, root: object) -> str:
    prefix = f"{root}/"
    return text.replace(prefix, "")
