"""Exclusions: what a young runner declares it does not support yet, each with a reason.

A TOML (or JSON) file with one table, ``exclude``, mapping a scenario id (or a glob over ids,
``concurrency/*``) to the reason::

    [exclude]
    "errors/cancel-request" = "cancellation lands in 0.3"
    "concurrency/*" = "one invocation at a time for now"

Excluded scenarios are not run; the scorecard lists them with the reason and they count
neither as passed nor as failed. A pattern that matches no scenario is an error (a typo would
otherwise exclude nothing, silently).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ("ExclusionError", "excluded_by", "load_exclusions")


class ExclusionError(ValueError):
    """An exclusions file is malformed or names no scenario."""


def load_exclusions(path: Path, known_ids: Iterable[str]) -> dict[str, str]:
    """Pattern -> reason, checked against the ids the kit knows."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExclusionError(f"cannot read exclusions file {path}: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ExclusionError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") \
            from exc
    table = data.get("exclude") if isinstance(data, dict) else None
    extra = sorted(set(data) - {"exclude"}) if isinstance(data, dict) else []
    if not isinstance(table, dict) or extra:
        raise ExclusionError(f"{path}: expected one table `exclude` mapping scenario ids to "
                             f"reasons (e.g. \"errors/cancel-request\" = \"why\"); got keys "
                             f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
    ids = list(known_ids)
    for pattern, reason in table.items():
        if not isinstance(reason, str) or not reason.strip():
            raise ExclusionError(f"{path}: exclude.{pattern!r} needs a reason (a non-empty "
                                 f"string), got {reason!r}")
        if not any(fnmatch.fnmatchcase(i, pattern) for i in ids):
            raise ExclusionError(f"{path}: exclude.{pattern!r} matches no scenario; scenario ids "
                                 f"look like {', '.join(ids[:3])}, ... (motia runners check "
                                 "--json lists them all)")
    return dict(table)


def excluded_by(scenario_id: str, exclusions: Mapping[str, str]) -> str | None:
    """The reason ``scenario_id`` is excluded, or None."""
    for pattern, reason in exclusions.items():
        if fnmatch.fnmatchcase(scenario_id, pattern):
            return reason
    return None
