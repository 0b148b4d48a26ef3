"""Runner plugins: a runner is any command that speaks the protocol, registered as data.

Three sources, later ones winning for the same language:

1. the built-in runners (``spec.builtin_specs``: python, node, ruby);
2. installed Python packages, through the ``motia.runners`` entry-point group: the entry point
   names a ``RunnerSpec`` or a callable returning one;
3. the project's ``motia.toml``, one table per language::

       [runner.perl]
       command = ["perl", "${project}/runners/perl/runner.pl"]   # argv, no shell
       patterns = [".step.pl", "_step.pl"]                        # file-name endings
       env = { PERL5LIB = "${project}/lib" }                      # optional
       install_hint = "install Perl 5 (Debian: apt-get install perl)"  # optional

   ``${project}``, ``${runners}``, ``${python}`` and environment variables are substituted as
   ``RunnerSpec`` does. A table for a language that already exists overrides only the keys it
   gives (``[runner.node] command = ["bun", "${runners}/node/runner.mjs"]``).

Every problem is an error that names the file, the table and the key, and says what to write.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from motia_core.config import SETTINGS_FILE
from motia_core.runners.spec import ENTRY_POINT_GROUP, RunnerRegistry, RunnerSpec, builtin_specs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = (
    "PROJECT_SOURCE",
    "RunnerConfigError",
    "entry_point_specs",
    "load_registry",
    "pin_project",
    "project_specs",
    "registry_for_project",
)

PROJECT_SOURCE = f"project {SETTINGS_FILE}"
_KEYS = {"command", "patterns", "env", "install_hint"}
_LANGUAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class RunnerConfigError(ValueError):
    """A runner registration (a motia.toml table or an entry point) is malformed."""


def registry_for_project(project_root: Path) -> RunnerRegistry:
    """Built-ins, then entry points, then the project's ``[runner.*]`` tables (later wins).
    Raises RunnerConfigError for the first bad registration."""
    registry, problems = load_registry(project_root)
    if problems:
        raise RunnerConfigError(problems[0])
    return registry


def load_registry(project_root: Path) -> tuple[RunnerRegistry, list[str]]:
    """The registry and every problem found on the way, for commands that should show what
    they can (``motia runners list``) rather than stop at the first broken plugin."""
    registry = RunnerRegistry(builtin_specs())
    problems: list[str] = []
    specs, ep_problems = entry_point_specs()
    problems.extend(ep_problems)
    for spec in specs:
        registry.register(spec)
    try:
        for spec in project_specs(project_root, registry):
            registry.register(spec)
    except RunnerConfigError as exc:
        problems.append(str(exc))
    return registry, problems


def pin_project(spec: RunnerSpec, project_root: Path) -> RunnerSpec:
    """The spec with ``${project}`` in its command and env fixed to ``project_root`` now.

    A project's runner usually lives in the project (``${project}/runners/x``); whoever starts
    it against another project root (the conformance kit runs it on a scratch project of
    fixture steps) must keep ``${project}`` meaning the project that registered it."""
    pin = str(project_root)
    return replace(spec, command=tuple(p.replace("${project}", pin) for p in spec.command),
                   env={k: v.replace("${project}", pin) for k, v in spec.env.items()})


def entry_point_specs() -> tuple[list[RunnerSpec], list[str]]:
    """Specs from installed packages; a plugin that fails to load is reported, not skipped."""
    specs: list[RunnerSpec] = []
    problems: list[str] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "?"
        where = f"entry point {ep.name!r} ({ep.value}) of {dist} in group {ENTRY_POINT_GROUP!r}"
        try:
            target = ep.load()
            spec = target() if callable(target) and not isinstance(target, RunnerSpec) \
                else target
        except Exception as exc:  # a plugin's bug: name it and go on with the others
            problems.append(f"{where} failed to load: {type(exc).__name__}: {exc}; reinstall "
                            f"or uninstall {dist}")
            continue
        if not isinstance(spec, RunnerSpec):
            problems.append(f"{where} gave {type(spec).__name__}, expected a "
                            "motia_core.runners.RunnerSpec (or a callable returning one)")
            continue
        specs.append(replace(spec, source=f"entry point {dist}:{ep.name}"))
    return specs, problems


def project_specs(project_root: Path, existing: RunnerRegistry | None = None,
                  ) -> list[RunnerSpec]:
    """The specs of ``<project>/motia.toml``'s ``[runner.<language>]`` tables."""
    path = project_root / SETTINGS_FILE
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RunnerConfigError(f"{path}: not valid TOML: {exc}") from exc
    tables = data.get("runner", {})
    if not isinstance(tables, dict):
        raise RunnerConfigError(f"{path}: `runner` must be tables [runner.<language>], got "
                                f"{type(tables).__name__}")
    specs = [_spec(path, language, table, existing) for language, table in tables.items()]
    _check_patterns(path, specs, existing)
    return specs


def _spec(path: Path, language: str, table: Any, existing: RunnerRegistry | None) -> RunnerSpec:
    where = f"{path}: [runner.{language}]"
    if not _LANGUAGE.match(language):
        raise RunnerConfigError(f"{where}: the language name must be letters, digits, _ or - "
                                "(it names the runner and its fixture folder)")
    if not isinstance(table, dict):
        raise RunnerConfigError(f"{where}: must be a table, got {table!r}")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise RunnerConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: "
                                f"{', '.join(sorted(_KEYS))}")
    base = existing.get(language) if existing is not None and language in existing else None
    if base is None:
        missing = [key for key in ("command", "patterns") if key not in table]
        if missing:
            raise RunnerConfigError(
                f"{where}: a new runner needs {' and '.join(missing)}, e.g. command = "
                f"[\"{language}\", \"${{project}}/runner\"] and patterns = [\".step.ext\"]")
    command = _strings(where, "command", table["command"], "an argv array (no shell), e.g. "
                       "[\"perl\", \"runner.pl\"]") if "command" in table else base.command  # type: ignore[union-attr]
    patterns = _strings(where, "patterns", table["patterns"], "file-name endings, e.g. "
                        "[\".step.pl\", \"_step.pl\"]") if "patterns" in table \
        else base.patterns  # type: ignore[union-attr]
    env = _env(where, table["env"]) if "env" in table else dict(base.env if base else {})
    hint = table.get("install_hint", base.install_hint if base else "")
    if not isinstance(hint, str):
        raise RunnerConfigError(f"{where}: install_hint must be a string, got {hint!r}")
    return RunnerSpec(language=language, command=_anchor(command), patterns=patterns, env=env,
                      source=PROJECT_SOURCE, install_hint=hint)


def _strings(where: str, key: str, value: Any, expected: str) -> tuple[str, ...]:
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise RunnerConfigError(f"{where}: {key} must be a non-empty array of strings, {expected}; "
                            f"got {value!r}")


def _env(where: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise RunnerConfigError(f"{where}: env must be a table of strings, e.g. env = {{ FOO = "
                            f"\"bar\" }}; got {value!r}")


def _anchor(command: tuple[str, ...]) -> tuple[str, ...]:
    """A relative executable path (``./bin/runner``) is relative to the project, not to wherever
    the core was started; bare names (``perl``) are looked up on PATH."""
    exe = command[0]
    if "/" in exe and not exe.startswith(("/", "$")):
        return ("${project}/" + exe.removeprefix("./"), *command[1:])
    return command


def _check_patterns(path: Path, specs: Iterable[RunnerSpec],
                    existing: RunnerRegistry | None) -> None:
    """Two languages serving one file ending would make discovery depend on order."""
    owners: dict[str, RunnerSpec] = {}
    mine = {spec.language for spec in specs}
    for spec in [*(s for s in existing or () if s.language not in mine), *specs]:
        for pattern in spec.patterns:
            other = owners.get(pattern)
            if other is not None and other.language != spec.language:
                raise RunnerConfigError(
                    f"{path}: [runner.{spec.language}] pattern {pattern!r} is already served by "
                    f"the {other.language} runner ({other.source}); to replace that runner, "
                    f"name the table [runner.{other.language}], or pick another ending")
            owners[pattern] = spec
