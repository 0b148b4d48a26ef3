"""The `motia` command. Thin: parse options, build settings, call the library.

Every option has an environment variable (shown in --help). List-like commands take --json.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import click

from motia_core import __version__
from motia_core.cli.operator import cron, emit
from motia_core.cli.project import create, generate_types_command, openapi_command
from motia_core.cli.runners import runners
from motia_core.config import Settings, SettingsError

__all__ = ("main",)

_project_option = click.option(
    "--project", "project", type=click.Path(file_okay=False, path_type=Path), default=".",
    envvar="MOTIA_PROJECT", show_envvar=True, show_default=True, help="The project's root folder.",
)


def _settings(project: Path, **overrides: Any) -> Settings:
    try:
        return Settings.load(project).with_overrides(overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def _serve_options(func: Any) -> Any:
    options = [
        _project_option,
        click.option("-p", "--port", type=int, envvar="MOTIA_PORT", show_envvar=True,
                     help="HTTP port [default: 3000]."),
        click.option("-H", "--host", envvar="MOTIA_HOST", show_envvar=True,
                     help="Address to listen on [default: 127.0.0.1]."),
        click.option("--runners", envvar="MOTIA_RUNNERS", show_envvar=True,
                     help="Languages whose runners start, e.g. python,node. Steps of the others "
                          "are listed as skipped. Default: every language the project uses."),
        click.option("--workers", envvar="MOTIA_WORKERS", show_envvar=True,
                     help="Runner processes per language, e.g. python=4,node=2."),
        click.option("--state", envvar="MOTIA_STATE", show_envvar=True,
                     type=click.Choice(["sqlite", "memory", "redis"]),
                     help="Where state lives [default: sqlite under .motia/]."),
        click.option("--queue", envvar="MOTIA_QUEUE", show_envvar=True,
                     type=click.Choice(["sqlite", "memory", "redis"]),
                     help="Where accepted events wait [default: sqlite under .motia/, which "
                          "survives a crash]."),
        click.option("--streams", envvar="MOTIA_STREAMS", show_envvar=True,
                     type=click.Choice(["sqlite", "memory", "redis"]),
                     help="Where stream items live; redis also carries every change to the "
                          "WebSocket clients of all instances [default: as --state]."),
        click.option("--observability", envvar="MOTIA_OBSERVABILITY", show_envvar=True,
                     type=click.Choice(["sqlite", "memory", "redis", "off"]),
                     help="Where traces and logs are kept; redis shares them between instances "
                          "[default: redis when --state or --queue is, else sqlite]."),
        click.option("--redis-url", envvar="MOTIA_REDIS_URL", show_envvar=True,
                     help="The Redis server of --state/--queue/--streams redis, e.g. "
                          "redis://127.0.0.1:6379/0 ([redis] url in motia.toml)."),
        click.option("--redis-prefix", envvar="MOTIA_REDIS_PREFIX", show_envvar=True,
                     help="Start of every Redis key motia-core writes [default: motia:]; "
                          "instances sharing the work use the same one."),
        click.option("--json-logs/--no-json-logs", default=None, envvar="MOTIA_JSON_LOGS",
                     show_envvar=True,
                     help="JSON lines on stderr [default: when stderr is not a terminal]."),
        click.option("-d", "--debug", is_flag=True, envvar="MOTIA_DEBUG", show_envvar=True,
                     help="Log at debug level."),
        click.option("--workbench/--no-workbench", default=None, envvar="MOTIA_WORKBENCH",
                     show_envvar=True,
                     help="Serve the Workbench and its API under /__motia/api [default: on in "
                          "dev, off in start]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_processes_option = click.option(
    "--processes", type=click.IntRange(min=1), envvar="MOTIA_PROCESSES", show_envvar=True,
    help="Core processes serving the project on one port, sharing its stores (SQLite or "
         "Redis), each with its own runners [default: one per core for start; 1 with a store "
         "in memory, and always 1 for dev].")


def _serve(strict: bool, project: Path, debug: bool, processes: int | None = None,
           **overrides: Any) -> None:
    from motia_core.cli.processes import BANNER_ENV, CHILD_ENV, child_ready

    try:
        settings = Settings.load(project).with_overrides(
            {"log_level": "debug" if debug else None, **overrides})
    except SettingsError as exc:
        if not overrides.get("json_logs"):
            raise click.UsageError(str(exc)) from exc
        # Under --json-logs even this is one JSON line on stderr.
        from motia_core.observability import configure_logging

        configure_logging(json=True)
        logging.getLogger("motia.app").error("cannot start: %s", exc,
                                             extra={"action": "startup_failed"})
        sys.exit(2)
    count = _process_count(strict, settings, processes)
    if count > 1:
        sys.exit(_supervise(settings, count))
    from motia_core.runtime.app import (
        serve,  # the app pulls in aiohttp & co; `motia --help` should not
    )

    child = CHILD_ENV in os.environ
    code = anyio.run(functools.partial(
        serve, settings, strict, reuse_port=child, on_ready=child_ready,
        banner=os.environ.get(BANNER_ENV, "1") != "0"))
    sys.exit(code)


def _process_count(strict: bool, settings: Settings, asked: int | None) -> int:
    """How many core processes: --processes, else one per core for `start` with stores the
    processes share (SQLite or Redis; streams too), 1 for `dev` (it reloads on change) or with a
    store kept in memory. On SQLite, where the processes take turns at one file's write lock,
    two measured 1.30-1.33x the events/s of one on a quiet 2-core machine (bench/processes.py,
    2026-12-03; 1.1-1.5x under load)."""
    memory = [name for name in ("state", "queue") if getattr(settings, name) == "memory"]
    if asked is None:
        shared = not memory and settings.streams_store != "memory"
        return _cores() if strict and shared else 1
    if asked > 1 and not strict:
        raise click.UsageError("motia dev runs one process (it reloads on change); "
                               "--processes is for motia start")
    if asked > 1 and memory:
        raise click.UsageError(
            f"--processes {asked} needs stores the processes share: --{memory[0]} memory "
            "keeps them in each process (use sqlite or redis, or --processes 1)")
    return asked


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _supervise(settings: Settings, count: int) -> int:
    """Start ``count`` `motia start --processes 1` children with this command's options."""
    from motia_core.cli.processes import free_port, supervise
    from motia_core.observability import configure_logging

    configure_logging(json=settings.json_logs, level=settings.log_level)
    ctx = click.get_current_context()
    port = settings.port or free_port(settings.host)
    args = [sys.executable, "-m", "motia_core.cli", ctx.info_name or "start"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if not isinstance(param, click.Option) or value is None or param.name in (
                "processes", "port"):
            continue
        if param.is_flag:
            if param.secondary_opts:
                args.append(param.opts[-1] if value else param.secondary_opts[-1])
            elif value:
                args.append(param.opts[-1])
        else:
            args += [param.opts[-1], str(value)]
    args += ["--port", str(port), "--processes", "1"]
    if settings.streams_store == "memory":
        logging.getLogger("motia.processes").warning(
            "streams are kept in memory: with %d processes each has its own, and a WebSocket "
            "subscriber hears only the stream changes made by the process it is connected to "
            "(--streams sqlite or redis share them)", count,
            extra={"action": "streams_per_process"})
    return supervise(args, count, f"http://{settings.host}:{port}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="motia-core")
def main() -> None:
    """motia-core: API, event, cron and noop steps in Python, TypeScript and Ruby, one project."""


@main.command()
@_serve_options
@_processes_option
def dev(project: Path, debug: bool, **options: Any) -> None:
    """Run the project for development: broken steps are reported and the rest run."""
    _serve(False, project, debug, **options)


@main.command()
@_serve_options
@_processes_option
def start(project: Path, debug: bool, **options: Any) -> None:
    """Run the project in production: any invalid step refuses the start (exit 1)."""
    _serve(True, project, debug, **options)


@main.group()
def state() -> None:
    """Read and write the project's state store (SQLite under .motia/, or Redis)."""


def _on_store(open_store: Any, action: Any, errors: tuple[type[Exception], ...]) -> Any:
    """Open a store, run ACTION on it, close it; the store's own errors become CLI errors."""

    async def go() -> Any:
        store = open_store()
        try:
            return await action(store)
        finally:
            await store.aclose()

    try:
        return anyio.run(go)
    except errors as exc:
        raise click.ClickException(str(exc)) from exc


def _run_state(project: Path, action: Any) -> Any:
    from motia_core.state import StateError, open_state

    settings = _settings(project)
    if settings.state == "memory":
        raise click.ClickException("this project keeps state in memory: nothing to read here")
    return _on_store(
        lambda: open_state(settings.state, settings.data_dir, redis_url=settings.redis_url,
                           redis_prefix=settings.redis_prefix),
        action, (StateError,))


@state.command("get")
@_project_option
@click.argument("group")
@click.argument("key")
def state_get(project: Path, group: str, key: str) -> None:
    """Print the value of GROUP/KEY as JSON (null when absent)."""
    click.echo(json.dumps(_run_state(project, lambda s: s.get(group, key))))


@state.command("set")
@_project_option
@click.argument("group")
@click.argument("key")
@click.argument("value")
def state_set(project: Path, group: str, key: str, value: str) -> None:
    """Store VALUE (JSON) under GROUP/KEY."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="VALUE") from exc
    click.echo(json.dumps(_run_state(project, lambda s: s.set(group, key, parsed))))


@state.command("list")
@_project_option
@click.argument("group", required=False)
def state_list(project: Path, group: str | None) -> None:
    """Print every item (or GROUP's items) as JSON lines: groupId, key, type, value."""
    import msgspec

    items = _run_state(project, lambda s: s.items(group))
    for item in items:
        click.echo(msgspec.json.encode(item).decode())


@main.group()
def dlq() -> None:
    """Dead letters: events a step gave up on after its retries, with their last error."""


def _run_dlq(project: Path, action: Any) -> Any:
    from motia_core.events import QueueError, open_queue
    from motia_core.events import dlq as operations

    settings = _settings(project)
    if settings.queue == "memory":
        raise click.ClickException("this project keeps its queue in memory: nothing is kept here")
    return _on_store(
        lambda: open_queue(settings.queue, settings.data_dir, redis_url=settings.redis_url,
                           redis_prefix=settings.redis_prefix),
        lambda queue: action(operations, queue), (QueueError, operations.DeadLetterNotFound))


@dlq.command("list")
@_project_option
@click.option("--queue", "queue_name", help="Only this queue (<topic>.<step name>).")
def dlq_list(project: Path, queue_name: str | None) -> None:
    """One JSON line per dead letter: id, queue, topic, step, attempts, error, traceId."""
    rows = _run_dlq(project, lambda ops, q: ops.list_dead_letters(q, queue_name))
    for row in rows:
        click.echo(json.dumps(row))


@dlq.command("show")
@_project_option
@click.argument("message_id")
def dlq_show(project: Path, message_id: str) -> None:
    """Everything about one dead letter, its data and stack included."""
    click.echo(json.dumps(_run_dlq(project, lambda ops, q: ops.show(q, None, message_id)),
                          indent=2))


@dlq.command("replay")
@_project_option
@click.argument("message_id")
def dlq_replay(project: Path, message_id: str) -> None:
    """Queue a dead letter again (attempt 1, same trace); a running server delivers it."""
    click.echo(json.dumps(_run_dlq(project, lambda ops, q: ops.replay(q, None, message_id))))


@dlq.command("purge")
@_project_option
@click.option("--queue", "queue_name", help="Only this queue (<topic>.<step name>).")
def dlq_purge(project: Path, queue_name: str | None) -> None:
    """Delete dead letters for good."""
    click.echo(json.dumps(_run_dlq(project, lambda ops, q: ops.purge(q, queue_name))))


@main.command()
@_project_option
@click.option("--venv", type=click.Path(file_okay=False, path_type=Path), envvar="MOTIA_VENV",
              show_envvar=True, help="The virtual environment to install into [default: "
              "MOTIA_PYTHON's, else the project's python_modules/ or .venv/, else a new "
              "python_modules/].")
@click.option("--python", "python", envvar="MOTIA_INSTALL_PYTHON", show_envvar=True,
              help="The interpreter that creates a new environment [default: the one running "
                   "motia].")
@click.option("-v", "--verbose", is_flag=True, help="Show pip's output as it comes.")
def install(project: Path, venv: Path | None, python: str | None, verbose: bool) -> None:
    """Create or reuse the project's Python environment and install requirements.txt into it
    (what Motia projects' `postinstall: motia install` expects)."""
    from motia_core.cli.install import InstallError
    from motia_core.cli.install import install as install_requirements

    try:
        install_requirements(project.resolve(), venv=venv, python=python, verbose=verbose,
                             echo=click.echo)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@_project_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(project: Path, as_json: bool) -> None:
    """Which runtimes are present, their versions, and what this project is missing."""
    from motia_core.cli.doctor import diagnose, render

    report = diagnose(_settings(project))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        render(report)
    if (report["missing"] or report["problems"]
            or report["pythonEnvironment"]["status"] in ("missing", "stale")):
        sys.exit(1)


main.add_command(create)
main.add_command(emit)
main.add_command(cron)
main.add_command(generate_types_command)
main.add_command(openapi_command)
main.add_command(runners)


if __name__ == "__main__":
    main()
