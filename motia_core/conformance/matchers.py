"""Matching a runner's JSON against what a scenario expects, with a reason when it does not.

Scenarios are data, so the matchers are JSON too. A plain value matches exactly (objects: the
same keys, arrays: the same length, each member matched recursively, so matchers nest). An
object with a single ``$`` key is a matcher:

``{"$any": true}``            anything, even an absent key
``{"$optional": M}``          in an object: absent, or present and matching M
``{"$absent": true}``         in an object: the key must not be there
``{"$type": "string"}``       JSON type: string, integer, number, boolean, null, object, array
                              (or a list of them)
``{"$regex": "^Syntax"}``     a string containing a match (``re.search``)
``{"$subset": {...}}``        an object with at least these keys, each matching
``{"$contains": [M, ...]}``   an array with a distinct element matching each M
``{"$unordered": [M, ...]}``  an array of exactly these, in any order
``{"$oneOf": [M, ...]}``      at least one of them matches
``{"$exact": V}``             V literally (for an object whose key starts with ``$``)

``mismatch(expected, actual)`` returns None for a match, else one sentence that names the path
(``$.output.body.id: expected "42", got 42``): that sentence is what the scorecard shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ("MATCHER_KEYS", "MISSING", "describe", "is_matcher", "mismatch", "problem")


class _Missing:
    """An absent key (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "<absent>"


MISSING: Any = _Missing()

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def describe(value: Any, limit: int = 160) -> str:
    """A short JSON rendering of a value for a reason sentence."""
    if value is MISSING:
        return "nothing (the key is absent)"
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in MATCHER_KEYS


def mismatch(expected: Any, actual: Any, path: str = "$") -> str | None:
    """None when ``actual`` matches ``expected``; otherwise why not, naming the path."""
    if is_matcher(expected):
        ((key, arg),) = expected.items()
        return MATCHER_KEYS[key](arg, actual, path)
    if actual is MISSING:
        return f"{path}: expected {describe(expected)}, got {describe(actual)}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {describe(actual)}"
        extra = sorted(set(actual) - set(expected))
        if extra:
            return (f"{path}: unexpected key(s) {', '.join(map(repr, extra))} in "
                    f"{describe(actual)}")
        return _members(expected, actual, path)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {describe(actual)}"
        if len(actual) != len(expected):
            return (f"{path}: expected an array of {len(expected)}, got {len(actual)}: "
                    f"{describe(actual)}")
        for index, (exp, act) in enumerate(zip(expected, actual, strict=True)):
            reason = mismatch(exp, act, f"{path}[{index}]")
            if reason:
                return reason
        return None
    if _same_scalar(expected, actual):
        return None
    return f"{path}: expected {describe(expected)}, got {describe(actual)}"


def _same_scalar(expected: Any, actual: Any) -> bool:
    # JSON has no int/bool confusion (Python's True == 1 does).
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual
    return type(expected) is type(actual) and bool(expected == actual)


def _members(expected: dict[str, Any], actual: dict[str, Any], path: str) -> str | None:
    for key, exp in expected.items():
        reason = mismatch(exp, actual.get(key, MISSING), f"{path}.{key}")
        if reason:
            return reason
    return None


def _any(arg: Any, actual: Any, path: str) -> str | None:
    return None


def _optional(arg: Any, actual: Any, path: str) -> str | None:
    return None if actual is MISSING else mismatch(arg, actual, path)


def _absent(arg: Any, actual: Any, path: str) -> str | None:
    return None if actual is MISSING else f"{path}: expected no such key, got {describe(actual)}"


def _type(arg: Any, actual: Any, path: str) -> str | None:
    names = [arg] if isinstance(arg, str) else list(arg)
    if any(_TYPES[name](actual) for name in names):
        return None
    return f"{path}: expected {' or '.join(names)}, got {describe(actual)}"


def _regex(arg: Any, actual: Any, path: str) -> str | None:
    if isinstance(actual, str) and re.search(arg, actual):
        return None
    return f"{path}: expected a string matching /{arg}/, got {describe(actual)}"


def _subset(arg: Any, actual: Any, path: str) -> str | None:
    if not isinstance(actual, dict):
        return f"{path}: expected an object with {describe(sorted(arg))}, got {describe(actual)}"
    return _members(arg, actual, path)


def _contains(arg: Any, actual: Any, path: str) -> str | None:
    if not isinstance(actual, list):
        return f"{path}: expected an array, got {describe(actual)}"
    left = list(actual)
    for exp in arg:
        found = next((i for i, act in enumerate(left) if mismatch(exp, act) is None), None)
        if found is None:
            return f"{path}: no element matches {describe(exp)} in {describe(actual)}"
        left.pop(found)
    return None


def _unordered(arg: Any, actual: Any, path: str) -> str | None:
    if isinstance(actual, list) and len(actual) != len(arg):
        return f"{path}: expected {len(arg)} elements in any order, got {len(actual)}"
    return _contains(arg, actual, path)


def _one_of(arg: Any, actual: Any, path: str) -> str | None:
    reasons = [mismatch(exp, actual, path) for exp in arg]
    if any(reason is None for reason in reasons):
        return None
    return f"{path}: matches none of {describe(arg)}; got {describe(actual)}"


def _exact(arg: Any, actual: Any, path: str) -> str | None:
    if actual is not MISSING and json.dumps(arg, sort_keys=True) == json.dumps(actual,
                                                                                sort_keys=True):
        return None
    return f"{path}: expected exactly {describe(arg)}, got {describe(actual)}"


MATCHER_KEYS: dict[str, Callable[[Any, Any, str], str | None]] = {
    "$any": _any,
    "$optional": _optional,
    "$absent": _absent,
    "$type": _type,
    "$regex": _regex,
    "$subset": _subset,
    "$contains": _contains,
    "$unordered": _unordered,
    "$oneOf": _one_of,
    "$exact": _exact,
}


def problem(expected: Any, path: str = "$") -> str | None:
    """Why a matcher written in a scenario is malformed (a bad $type name, a bad regex), if it
    is; checked when scenarios load so a typo fails there, not as a runner's failure."""
    if is_matcher(expected):
        ((key, arg),) = expected.items()
        return _matcher_problem(key, arg, path)
    if isinstance(expected, dict):
        return _first(problem(m, f"{path}.{k}") for k, m in expected.items())
    if isinstance(expected, list):
        return _first(problem(m, f"{path}[{i}]") for i, m in enumerate(expected))
    return None


def _matcher_problem(key: str, arg: Any, path: str) -> str | None:
    if key == "$type":
        names = [arg] if isinstance(arg, str) else arg
        if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
            return f"{path}: $type takes one of {sorted(_TYPES)} (or a list), got {arg!r}"
    elif key == "$regex":
        try:
            re.compile(arg)
        except (re.error, TypeError) as exc:
            return f"{path}: $regex {arg!r} does not compile: {exc}"
    elif key in ("$contains", "$unordered", "$oneOf"):
        if not isinstance(arg, list):
            return f"{path}: {key} takes an array of matchers, got {describe(arg)}"
        return _first(problem(m, f"{path}{key}[{i}]") for i, m in enumerate(arg))
    elif key == "$subset":
        if not isinstance(arg, dict):
            return f"{path}: $subset takes an object, got {describe(arg)}"
        return _first(problem(m, f"{path}.{k}") for k, m in arg.items())
    elif key == "$optional":
        return problem(arg, path)
    return None


def _first(reasons: Iterable[str | None]) -> str | None:
    return next((r for r in reasons if r), None)
