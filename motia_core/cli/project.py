"""`motia create` and `motia generate-types`: commands about the project's files, not its running.

Thin, like main.py: scaffolding lives in :mod:`motia_core.cli.create`, the types in
:mod:`motia_core.project.typegen`. ``generate-types`` needs the configs as the runners see them
(a zod schema becomes JSON Schema only inside the Node runner), so it starts the project's runners,
loads every step and stream file once, and stops them: no server, no queue, no state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anyio
import click

from motia_core.cli.create import TEMPLATES, CreateError, create_project
from motia_core.config import Settings, SettingsError
from motia_core.project import Project, discover
from motia_core.project.alltypes import generate_for
from motia_core.project.loading import load_files, select_languages
from motia_core.project.openapi import build_openapi
from motia_core.project.typegen import write_types
from motia_core.protocol import LoadedFile
from motia_core.protocol.errors import InvocationNotFound
from motia_core.runners import RunnerPool, RunnerRegistry, RunnerState
from motia_core.runners.plugins import registry_for_project

__all__ = ("create", "generate_types_command", "load_project", "openapi_command")


async def _no_callbacks(method: str, params: object) -> None:
    """Loading runs no handler, so nothing may call back; module-level output is dropped."""
    if method != "log":
        raise InvocationNotFound(f"{method!r} needs a running step; generate-types runs none")


async def load_project(settings: Settings, registry: RunnerRegistry | None = None,
                       ) -> tuple[Project, dict[str, str]]:
    """The project as its runners load it, and the languages not loaded with the reason.

    Every language used by the project (or selected in ``settings.runners``) whose runtime is
    installed gets one runner process, which loads all of that language's files and stops.
    """
    registry = registry or registry_for_project(settings.project_root)
    root = settings.project_root
    found = discover(root, {spec.language: spec.patterns for spec in registry})
    languages, skipped = select_languages(settings, registry, found)
    pools = {language: RunnerPool(registry.get(language), project_root=root,
                                  callbacks=_no_callbacks) for language in languages}
    started = list(pools.values())
    loaded: list[LoadedFile] = []
    async with anyio.create_task_group() as tg:
        try:
            for pool in started:
                await tg.start(pool.run)
            for language, pool in list(pools.items()):
                await pool.wait_ready()
                if pool.processes[0].state is RunnerState.FATAL:
                    skipped[language] = (f"its runner cannot start: "
                                         f"{pool.processes[0].last_error}")
                    del pools[language]
            loaded, _ = await load_files(pools, found)
        finally:
            with anyio.CancelScope(shield=True):
                for pool in started:
                    await pool.stop()
            tg.cancel_scope.cancel()
    return Project.build(found, loaded, languages=list(pools)), skipped


@click.command()
@click.argument("name", required=False)
@click.option("-t", "--template", type=click.Choice([t.name for t in TEMPLATES]),
              default="default", show_default=True, envvar="MOTIA_TEMPLATE", show_envvar=True,
              help="; ".join(f"{t.name}: {t.description}" for t in TEMPLATES) + ".")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=".", show_default=True, envvar="MOTIA_CREATE_DIR", show_envvar=True,
              help="Where the project folder goes (without NAME: the project folder itself).")
def create(name: str | None, template: str, directory: Path) -> None:
    """Create a project in a new folder NAME (or in --dir) from a template."""
    if name is not None and (Path(name).name != name or name in (".", "..")):
        raise click.BadParameter("a folder name, not a path; use --dir for where it goes",
                                 param_hint="NAME")
    target = directory / name if name else directory
    try:
        created = create_project(target, template, name)
    except CreateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {created.name} ({template} template) in {target}: "
               f"{len(created.files)} files.")
    click.echo("Next:")
    if target.resolve() != Path.cwd().resolve():
        click.echo(f"  cd {target}")
    if created.install is not None:
        click.echo(f"  {created.install}")
    click.echo("  motia dev")
    if created.template.typescript and shutil.which("node") is None:
        click.echo("Note: the TypeScript steps need Node.js 20.6 or newer on PATH "
                   "(https://nodejs.org); it is not installed here.", err=True)


@click.command("generate-types")
@click.option("--project", "project", type=click.Path(file_okay=False, path_type=Path),
              default=".", envvar="MOTIA_PROJECT", show_envvar=True, show_default=True,
              help="The project's root folder.")
def generate_types_command(project: Path) -> None:
    """Write types.d.ts, motia_types.py and sig/motia_types.rbs: each step's types, from the
    configs (the Python and Ruby files when the project has steps in that language).

    Exits 1 when a step or stream file could not be loaded (the file is written without it).
    """
    try:
        settings = Settings.load(project)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    loaded, skipped = anyio.run(load_project, settings)
    for language, reason in skipped.items():
        click.echo(f"warning: the {language} steps have no types: {reason}", err=True)
    # types.d.ts always (as before); the Python and Ruby files when the project has such steps.
    languages = {"node"} | {step.language for step in loaded.steps}
    for file, generated in generate_for(loaded, languages).items():
        for warning in generated.warnings:
            click.echo(f"warning: {warning}", err=True)
        path = settings.project_root / file
        changed = write_types(generated, path)
        click.echo(f"{'wrote' if changed else 'unchanged:'} {path}")
    if loaded.errors:
        click.echo(loaded.report_errors(), err=True)
        raise SystemExit(1)


@click.command("openapi")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the document to this file [default: standard output].")
@click.option("--project", "project", type=click.Path(file_okay=False, path_type=Path),
              default=".", envvar="MOTIA_PROJECT", show_envvar=True, show_default=True,
              help="The project's root folder.")
def openapi_command(output: Path | None, project: Path) -> None:
    """Print (or write) the OpenAPI 3.1 document of the project's api steps.

    The same document as GET /__motia/openapi.json on a running server. Exits 1 when a step or
    stream file could not be loaded (the document is written without it, listed under
    x-motia-skipped).
    """
    try:
        settings = Settings.load(project)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    loaded, skipped = anyio.run(load_project, settings)
    built = build_openapi(loaded)
    for language, reason in skipped.items():
        click.echo(f"warning: the {language} steps are not described: {reason}", err=True)
    for warning in built.warnings:
        click.echo(f"warning: {warning}", err=True)
    text = json.dumps(built.document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({len(built.document['paths'])} paths)", err=True)
    if loaded.errors:
        raise SystemExit(1)
