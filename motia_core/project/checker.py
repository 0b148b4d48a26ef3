"""What the config rules are made of: the error that names file, field and fix, and the checks
of one field's shape (string, list of strings, number in bounds, one of, no unknown keys).

A :class:`Checker` collects every problem of one config instead of stopping at the first, so a
user fixes them all at once; the rules themselves are in :mod:`motia_core.project.step_checks`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path
from typing import Any, NoReturn

__all__ = (
    "Checker",
    "ConfigError",
    "InvalidStep",
    "choice",
    "got",
    "is_number",
    "number",
    "string",
    "string_list",
    "unknown_keys",
)


class ConfigError(Exception):
    """One problem in one file's config. ``field`` is a path such as
    ``config.infrastructure.queue.maxRetries``; empty when the whole file failed to load."""

    def __init__(self, file: str, field: str, message: str, hint: str = "") -> None:
        self.file = file
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(file, field, message, hint)

    def __str__(self) -> str:
        return self.describe()

    def describe(self, root: Path | None = None) -> str:
        """One sentence; file paths relative to ``root`` when given."""
        file = self.file
        if root is not None:
            try:
                file = str(Path(self.file).relative_to(root))
            except ValueError:
                pass
        if self.field:
            text = f"{file}: {self.field} {self.message}"
        elif Path(self.file).name in self.message:
            text = self.message  # a runner's load error already names the file
        else:
            text = f"{file}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class InvalidStep(Exception):
    """A step or stream file whose config has problems; ``errors`` lists every one of them."""

    def __init__(self, file: str, errors: list[ConfigError]) -> None:
        self.file = file
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class Checker:
    """Collects every problem of one config instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []

    def error(self, field: str, message: str, hint: str = "") -> None:
        self.errors.append(ConfigError(self.file, field, message, hint))

    def fail(self) -> NoReturn:
        raise InvalidStep(self.file, self.errors)


def got(value: Any) -> str:
    if value is None:
        return "got null"
    if isinstance(value, bool):
        return f"got the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"got the number {value}"
    if isinstance(value, str):
        return f"got the string {value[:60]!r}"
    return "got a list" if isinstance(value, list) else "got an object"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def unknown_keys(c: Checker, path: str, value: dict[str, Any], allowed: Collection[str],
                  kind: str) -> None:
    for key in value:
        if key in allowed or key.startswith("__motia"):
            continue
        close = difflib.get_close_matches(key, list(allowed), n=1)
        hint = (f"did you mean {close[0]!r}?" if close
                else f"remove it ({kind} allows {', '.join(sorted(allowed))})")
        c.error(f"{path}.{key}", f"is not a field of {kind}", hint)


def string(c: Checker, path: str, value: Any, example: str = "", *,
            may_be_empty: bool = False) -> bool:
    if not isinstance(value, str):
        c.error(path, f"must be a string, {got(value)}", f"write e.g. {example!r}" if example
                else "")
        return False
    if not may_be_empty and not value.strip():
        c.error(path, "must not be empty", f"write e.g. {example!r}" if example else "")
        return False
    return True


def string_list(c: Checker, path: str, value: Any, example: str) -> None:
    if not isinstance(value, list):
        shown = value if isinstance(value, str) else example
        c.error(path, f"must be a list of strings, {got(value)}", f"write e.g. [{shown!r}]")
        return
    for i, item in enumerate(value):
        string(c, f"{path}[{i}]", item, example)


def number(c: Checker, path: str, value: Any, low: float | None = None,
            high: float | None = None, *, integer: bool = False, unit: str = "") -> bool:
    if not is_number(value) or (integer and float(value) != int(value)):
        c.error(path, f"must be {'a whole number' if integer else 'a number'}, {got(value)}")
        return False
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"between {low:g} and {high:g}" if low is not None and high is not None
                  else f"at least {low:g}" if low is not None else f"at most {high:g}")
        c.error(path, f"must be {bounds}{unit}, got {value:g}")
        return False
    return True


def choice(c: Checker, path: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        c.error(path, f"must be one of {', '.join(map(repr, options))}, {got(value)}")
