"""`motia doctor`: which runtimes are installed, what this project needs that is missing, and
whether its Redis server (when one is configured) answers."""

from __future__ import annotations

import subprocess
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from motia_core.cli.install import environment_status
from motia_core.config import Settings
from motia_core.project import discover
from motia_core.runners.plugins import registry_for_project
from motia_core.runners.spec import RunnerRegistry, RunnerSpec
from motia_core.storage.redis import ping, redact

__all__ = ("diagnose", "render")


def _version(spec: RunnerSpec, settings: Settings) -> str | None:
    exe = spec.argv(settings.project_root)[0]
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def diagnose(settings: Settings, registry: RunnerRegistry | None = None) -> dict[str, Any]:
    registry = registry or registry_for_project(settings.project_root)
    found = discover(settings.project_root,
                     {spec.language: spec.patterns for spec in registry})
    runtimes = []
    missing = []
    for spec in registry:
        present = spec.executable_present(settings.project_root)
        files = found.files_by_language.get(spec.language, [])
        runtimes.append({
            "language": spec.language,
            "command": " ".join(spec.argv(settings.project_root)),
            "present": present,
            "version": _version(spec, settings) if present else None,
            "source": spec.source,
            "projectFiles": len(files),
        })
        if files and not present:
            missing.append({"language": spec.language, "files": len(files),
                            "fix": spec.install_hint})
    env = environment_status(settings.project_root)
    redis, problems = _check_redis(settings)
    return {"projectRoot": str(settings.project_root), "runtimes": runtimes,
            "missing": missing, "warnings": list(found.warnings),
            "pythonEnvironment": {"status": env.status, "path": env.environment,
                                  "fix": env.fix},
            "redis": redis, "problems": problems}


def _check_redis(settings: Settings) -> tuple[dict[str, Any] | None, list[str]]:
    """Whether the configured Redis answers (None when no URL is set); a failure is a problem
    only when an adapter uses Redis, else a URL left in the settings would fail the check."""
    if not settings.redis_url:
        if "redis" in (settings.state, settings.queue, settings.streams_store,
                       settings.observability_store):
            return None, ["the 'redis' adapter is chosen but no Redis URL is set: pass "
                          "--redis-url, set MOTIA_REDIS_URL or [redis] url in motia.toml"]
        return None, []
    try:
        version = anyio.run(ping, settings.redis_url)
    except ConnectionError as exc:
        used = "redis" in (settings.state, settings.queue, settings.streams_store,
                           settings.observability_store)
        return ({"url": redact(settings.redis_url), "reachable": False, "error": str(exc)},
                [str(exc)] if used else [])
    return {"url": redact(settings.redis_url), "reachable": True, "version": version}, []


def render(report: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"Runtimes for {report['projectRoot']}")
    for column in ("language", "present", "version", "project files", "command"):
        table.add_column(column)
    for r in report["runtimes"]:
        table.add_row(r["language"], "yes" if r["present"] else "[red]no[/red]",
                      r["version"] or "-", str(r["projectFiles"]), r["command"])
    console.print(table)
    for m in report["missing"]:
        console.print(f"[red]missing[/red] {m['language']} for {m['files']} file(s): {m['fix']}")
    env = report["pythonEnvironment"]
    if env["status"] in ("missing", "stale"):
        where = f" {env['path']}" if env["path"] else ""
        console.print(f"[red]{env['status']}[/red] Python environment{where}: {env['fix']}")
    elif env["status"] == "ok":
        console.print(f"Python environment {env['path']}: requirements.txt installed")
    for w in report["warnings"]:
        console.print(f"[yellow]warning[/yellow] {w}")
    redis = report["redis"]
    if redis is not None and redis["reachable"]:
        console.print(f"Redis at {redis['url']}: [green]answers[/green] (version "
                      f"{redis['version']})")
    elif redis is not None:
        console.print(f"[yellow]Redis at {redis['url']} does not answer[/yellow]")
    for problem in report["problems"]:
        console.print(f"[red]problem[/red] {problem}")
    if (not report["missing"] and not report["problems"]
            and env["status"] not in ("missing", "stale")):
        console.print("[green]everything this project needs is installed[/green]")
