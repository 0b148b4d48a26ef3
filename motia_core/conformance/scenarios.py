"""Scenario files: the conformance kit's tests, written as data (protocol/conformance/scenarios).

One JSON file per tier: ``{"tier": 1, "name": "handshake", "title": ..., "scenarios": [...]}``.
A scenario starts a fresh runner, sends ``initialize`` (unless told not to) and ``steps.load``
for the fixture steps it names, then plays its ``actions`` in order. Actions are objects told
apart by their main key (``request``, ``notify``, ``raw``, ``invoke``, ``await``, ``cancel``,
``waitFor``, ``callbacks``, ``logs``, ``answeredInOrder``, ``closeStdin``, ``expectExit``;
``repeat`` expands its ``actions`` N times with ``${i}``). protocol/README.md documents each.
Everything is checked when the files load, so a typo in a scenario is an error naming the file,
the scenario and the action, never a runner's failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from motia_core.conformance.matchers import problem

__all__ = (
    "ACTIONS",
    "Action",
    "Answer",
    "Await",
    "Callbacks",
    "Cancel",
    "CloseStdin",
    "CoreScript",
    "ExpectExit",
    "Hold",
    "Invoke",
    "Logs",
    "Notify",
    "Order",
    "Raw",
    "Request",
    "Scenario",
    "ScenarioError",
    "Tier",
    "WaitFor",
    "load_tiers",
)

UNSET: Any = msgspec.UNSET


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file, scenario and action."""


class _Data(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    pass


class Request(_Data, kw_only=True):
    request: str
    params: Any = UNSET
    id: int | str | None = None
    label: str | None = msgspec.field(default=None, name="as")


class Notify(_Data, kw_only=True):
    notify: str
    params: Any = UNSET


class Raw(_Data, kw_only=True):
    raw: str
    label: str | None = msgspec.field(default=None, name="as")


class Invoke(_Data, kw_only=True):
    invoke: str  # a fixture step's logical name
    label: str | None = msgspec.field(default=None, name="as")
    trigger: Literal["api", "event", "cron"] = "event"
    input: Any = UNSET
    invocation_id: str | None = None
    trace: dict[str, Any] | None = None
    flows: list[str] | None = None
    timeout_ms: int | None = None
    validate_body: bool | None = None
    file: str | None = None  # a raw path instead of the fixture's (a file never loaded)


class Await(_Data, kw_only=True):
    await_: str = msgspec.field(name="await")  # a label, or "#null" for a response with id null
    result: Any = UNSET
    error: Any = UNSET
    why: str = ""
    within_s: float | None = None


class Cancel(_Data, kw_only=True):
    cancel: str | int  # a label, or a raw id (an id that is not pending)


class WaitFor(_Data, kw_only=True):
    wait_for: str  # a callback method
    params: Any = msgspec.field(default_factory=lambda: {"$any": True})
    count: int = 1
    within_s: float | None = None


class Callbacks(_Data, kw_only=True):
    callbacks: str  # an invocation id
    expect: list[Any]
    order: Literal["exact", "any", "contains"] = "exact"


class Logs(_Data, kw_only=True):
    logs: str | None  # an invocation id, or null for the runner's own lines
    expect: list[Any]
    mode: Literal["exact", "contains"] = "contains"


class Order(_Data, kw_only=True):
    answered_in_order: list[str]
    why: str = ""


class CloseStdin(_Data, kw_only=True):
    close_stdin: bool = True


class ExpectExit(_Data, kw_only=True):
    expect_exit: Any  # a code or a matcher
    within_s: float | None = None
    why: str = ""


Action = (Request | Notify | Raw | Invoke | Await | Cancel | WaitFor | Callbacks | Logs | Order
          | CloseStdin | ExpectExit)

ACTIONS: dict[str, type[Any]] = {
    "request": Request, "notify": Notify, "raw": Raw, "invoke": Invoke, "await": Await,
    "cancel": Cancel, "waitFor": WaitFor, "callbacks": Callbacks, "logs": Logs,
    "answeredInOrder": Order, "closeStdin": CloseStdin, "expectExit": ExpectExit,
}


class Answer(_Data, kw_only=True):
    """How the fake core answers a callback that matches, instead of its in-memory services."""

    method: str
    params: Any = msgspec.field(default_factory=lambda: {"$any": True})
    result: Any = UNSET
    error: dict[str, Any] | None = None


class Hold(_Data, kw_only=True):
    """Hold back answers to matching callbacks until ``until`` of them arrived: only a runner
    that really has that many invocations in flight gets past it."""

    method: str
    until: int
    release: Literal["arrival", "reverse"] = "arrival"


class CoreScript(_Data, kw_only=True):
    answers: list[Answer] = []
    hold: Hold | None = None


class _RawScenario(_Data, kw_only=True):
    id: str
    title: str
    requires: list[Literal["cancellation", "middleware", "reload"]] = []
    initialize: bool | dict[str, Any] = True
    load: list[str] = []
    core: CoreScript = msgspec.field(default_factory=CoreScript)
    actions: list[dict[str, Any]]
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Scenario:
    id: str  # "<tier name>/<scenario id>"
    tier: int
    title: str
    requires: tuple[str, ...]
    initialize: bool | dict[str, Any]
    load: tuple[str, ...]
    core: CoreScript
    actions: tuple[Any, ...]
    timeout_s: float
    source: Path


@dataclass(frozen=True)
class Tier:
    number: int
    name: str
    title: str
    scenarios: tuple[Scenario, ...]


class _RawTier(_Data, kw_only=True):
    tier: int
    name: str
    title: str
    scenarios: list[dict[str, Any]]


def load_tiers(directory: Path) -> list[Tier]:
    """Every ``*.json`` tier file in ``directory``, ordered by tier number."""
    tiers = [_load_tier(path) for path in sorted(directory.glob("*.json"))]
    if not tiers:
        raise ScenarioError(f"{directory}: no scenario files (*.json) found")
    numbers = [t.number for t in tiers]
    if len(set(numbers)) != len(numbers):
        raise ScenarioError(f"{directory}: two files declare the same tier number: {numbers}")
    return sorted(tiers, key=lambda t: t.number)


def _load_tier(path: Path) -> Tier:
    try:
        raw = msgspec.convert(json.loads(path.read_text(encoding="utf-8")), _RawTier)
    except (json.JSONDecodeError, msgspec.ValidationError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    scenarios = [_scenario(path, raw, item) for item in raw.scenarios]
    ids = [s.id for s in scenarios]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise ScenarioError(f"{path}: scenario id {duplicate!r} is used twice")
    return Tier(raw.tier, raw.name, raw.title, tuple(scenarios))


def _scenario(path: Path, tier: _RawTier, item: dict[str, Any]) -> Scenario:
    where = f"{path}: scenario {item.get('id', '?')!r}"
    try:
        raw = msgspec.convert(item, _RawScenario)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    actions = [_action(where, index, action)
               for index, action in enumerate(_expand(where, raw.actions))]
    for answer in raw.core.answers:
        _check_matchers(where, "core.answers", answer.params)
    return Scenario(f"{tier.name}/{raw.id}", tier.tier, raw.title, tuple(raw.requires),
                    raw.initialize, tuple(raw.load), raw.core, tuple(actions), raw.timeout_s,
                    path)


def _expand(where: str, actions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{"repeat": N, "actions": [...]}`` -> N copies, ``${i}`` replaced (0..N-1)."""
    out: list[dict[str, Any]] = []
    for action in actions:
        if "repeat" not in action:
            out.append(action)
            continue
        count, body = action.get("repeat"), action.get("actions")
        if not isinstance(count, int) or not isinstance(body, list) or set(action) != {
                "repeat", "actions"}:
            raise ScenarioError(f"{where}: repeat takes exactly {{\"repeat\": N, \"actions\": "
                                f"[...]}}, got {action!r}")
        for i in range(count):
            out.extend(_expand(where, _substitute_i(body, i)))
    return out


def _substitute_i(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return i if value == "${i}" else value.replace("${i}", str(i))
    if isinstance(value, list):
        return [_substitute_i(v, i) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_i(v, i) for k, v in value.items()}
    return value


def _action(where: str, index: int, action: dict[str, Any]) -> Any:
    kinds = [key for key in action if key in ACTIONS]
    if len(kinds) != 1:
        raise ScenarioError(f"{where}, action {index + 1}: needs exactly one of "
                            f"{', '.join(ACTIONS)}; got keys {sorted(action)}")
    try:
        parsed = msgspec.convert(action, ACTIONS[kinds[0]])
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{where}, action {index + 1} ({kinds[0]}): {exc}") from exc
    for name in ("result", "error", "expect", "params", "expect_exit"):
        value = getattr(parsed, name, UNSET)
        if value is not UNSET:
            _check_matchers(f"{where}, action {index + 1}", name, value)
    if isinstance(parsed, Await) and (parsed.result is UNSET) == (parsed.error is UNSET):
        raise ScenarioError(f"{where}, action {index + 1}: await needs exactly one of "
                            "result or error")
    return parsed


def _check_matchers(where: str, name: str, value: Any) -> None:
    reason = problem(value, f"${name}")
    if reason:
        raise ScenarioError(f"{where}: {reason}")
