"""The project's ``.env``: variables for the step code, as the original's CLI loaded them.

Motia loads ``<project>/.env`` (dotenv) before it loads steps, so step modules that read
``process.env.X`` / ``os.environ["X"]`` / ``ENV["X"]`` at import find X there. Here the file is
read each time a runner process starts (:meth:`RunnerSpec.environment`), so every runner, of any
language, gets it, and a runner restarted after ``.env`` changed gets the new values; the real
environment wins over the file, as dotenv does. The core's own process is left alone: its
settings come from ``motia.toml`` and the real environment.

When a step fails to load because a variable is missing, :func:`load_hint` says where to put it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

__all__ = ("DOTENV_FILE", "load_hint", "read_dotenv", "with_dotenv")

DOTENV_FILE = ".env"

# How step code in each language names the variable it wanted, as its error shows it.
_NAMED = (
    re.compile(r"process\.env\.([A-Za-z_]\w*)"),
    re.compile(r"process\.env\[['\"]([^'\"]+)['\"]\]"),
    re.compile(r"os\.environ\[['\"]([^'\"]+)['\"]\]"),
    re.compile(r"(?:os\.getenv|os\.environ\.get)\(['\"]([^'\"]+)['\"]"),
    re.compile(r"ENV(?:\.fetch\(|\[)['\"]([^'\"]+)['\"]"),
    # "X environment variable is required", "missing env variable 'X'": names in capitals only.
    re.compile(r"\b([A-Z][A-Z0-9_]+)['\"`]?\s+(?i:environment|env) variable"),
    re.compile(r"(?i:environment|env) variable\s+['\"`]?([A-Z][A-Z0-9_]+)\b"),
    # Python's KeyError from os.environ["X"], Ruby's KeyError from ENV.fetch("X").
    re.compile(r"KeyError: '([A-Z][A-Z0-9_]*)'"),
    re.compile(r"key not found: \"([A-Z][A-Z0-9_]*)\""),
)
_MENTIONS_ENV = re.compile(r"environment|process\.env|os\.environ|getenv|\bENV\b|dotenv",
                           re.IGNORECASE)


def read_dotenv(project_root: Path) -> dict[str, str]:
    """The variables of ``<project_root>/.env``; empty when there is none. A line dotenv cannot
    parse is skipped with a warning from python-dotenv's logger; a bare ``KEY`` sets nothing.
    ``${VAR}`` is kept as written: the original read the file with Node's dotenv, which does not
    expand it, so a value such as a password with ``${`` in it means the same here."""
    path = project_root / DOTENV_FILE
    if not path.is_file():
        return {}
    values = dotenv_values(path, interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def with_dotenv(project_root: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``environ`` over the project's ``.env``: a variable set in both keeps ``environ``'s."""
    return {**read_dotenv(project_root), **environ}


def _variables(message: str) -> list[str]:
    names: dict[str, None] = {}
    for pattern in _NAMED:
        for match in pattern.finditer(message):
            names[match.group(1)] = None
    return list(names)


def load_hint(project_root: Path, message: str,
              environ: Mapping[str, str] = os.environ) -> str:
    """What to do about a step that failed to load with ``message``, when it looks like a
    missing environment variable; "" otherwise."""
    if not _MENTIONS_ENV.search(message) and not _variables(message):
        return ""
    has_file = (project_root / DOTENV_FILE).is_file()
    file_values = read_dotenv(project_root)
    missing = [name for name in _variables(message)
               if name not in file_values and name not in environ]
    if missing:
        names = ", ".join(missing)
        if has_file:
            return (f"the project's .env has no {names}: add `{missing[0]}=...` to it, or set "
                    "it in the environment (which wins over .env)")
        return (f"{names} is not set: set it in the environment or in a .env file in the "
                "project root (motia loads it for every runner)")
    if has_file:
        return ("motia loaded the project's .env for every runner (the environment wins over "
                "it): check that the variable the step needs is set there")
    return ("if the step needs an environment variable, set it in the environment or in a .env "
            "file in the project root (motia loads it for every runner)")
