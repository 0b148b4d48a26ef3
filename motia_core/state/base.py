"""The state adapter interface: ``(group, key) -> JSON value``, and the rules every backend shares.

Steps reach state only through the core (``state.get|set|delete|getGroup|clear`` callbacks), and
the core reaches it only through a ``StateAdapter``. Adapters stay narrow on purpose (STYLE rule 8):
tracing, TTLs and the Python runner's ``{"data": ...}`` quirk live above them, in one place.

Semantics every adapter implements (the contract suite in tests/unit/test_state.py pins them):

* Groups and keys are arbitrary strings, ``""`` and ``":"`` included. The pair is the address; no
  composite ``"<group>:<key>"`` string exists anywhere, so group ``"a"`` never sees the keys of
  ``"ab"`` or ``"a:b"`` (the original's file and memory adapters matched by raw prefix).
* Values are JSON: dicts with string keys, lists (tuples are stored as lists), strings, numbers
  (ints of any size, finite floats), booleans and ``None``. Anything else raises
  ``InvalidStateValue`` naming the group, the key and where in the value the problem is; nothing
  is silently converted (msgspec alone would turn NaN into null and a set into a list).
* Storing ``None`` stores JSON ``null``: ``get`` then returns ``None`` as for a missing key, but
  the key exists (``keys``, ``items`` with ``type == "null"``, ``get_group`` includes ``None``).
* Values are copied on the way in and out (a JSON round trip), so mutating a dict after ``set``,
  or the result of ``get``, never changes what is stored.
* Everything that lists (``get_group``, ``keys``, ``groups``, ``items``) is in **key order**
  (Unicode code point order, which is also UTF-8 byte order): deterministic, and the same on every
  backend, including ones such as Redis that cannot remember insertion order cheaply.
"""

from __future__ import annotations

import abc
import math
from types import TracebackType
from typing import Any, Literal, TypeVar

import msgspec

__all__ = (
    "InvalidStateValue",
    "StateAdapter",
    "StateClosed",
    "StateError",
    "StateItem",
    "ValueType",
    "check_name",
    "decode_value",
    "encode_value",
    "value_type",
)

ValueType = Literal["string", "number", "boolean", "object", "array", "null"]

_Adapter = TypeVar("_Adapter", bound="StateAdapter")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class StateError(Exception):
    """The state store failed; the message names the store and what to do."""


class StateClosed(StateError, RuntimeError):
    """The state store was used after ``aclose()``."""


class InvalidStateValue(StateError, TypeError, ValueError):
    """A value that is not JSON was given to ``set``.

    It is both a TypeError (wrong kind of object) and a ValueError (NaN, infinity, too deep), so
    callers may catch whichever they think of first.
    """


class StateItem(msgspec.Struct, frozen=True, rename="camel"):
    """One stored entry as the admin API and the Workbench show it (``groupId`` on the wire)."""

    group_id: str
    key: str
    type: ValueType
    value: Any


def value_type(value: Any) -> ValueType:
    """The JSON type name of a decoded value, as ``StateItem.type`` reports it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_name(what: str, name: object) -> str:
    """Return ``name`` if it can be a group or key: any string that is valid Unicode text."""
    if not isinstance(name, str):
        raise TypeError(f"state {what} must be a string, got {type(name).__name__} {name!r}")
    if not _is_text(name):
        raise ValueError(
            f"state {what} {name!r} contains a lone surrogate and cannot be stored; "
            "pass valid Unicode text"
        )
    return name


def encode_value(group: str, key: str, value: Any) -> tuple[bytes, Any]:
    """Check ``value`` is JSON; return its JSON text and a fresh copy (what ``set`` returns).

    The fast path is msgspec's encode and decode plus one C-level comparison; only a value that
    msgspec refused or changed is walked to say exactly what is wrong with it.
    """
    try:
        data = _encoder.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _invalid(group, key, value, exc) from exc
    copy = _decoder.decode(data)
    if copy != value:
        problem = _find_problem(value)
        if problem is not None:
            raise _invalid(group, key, value, None, problem)
    return data, copy


def decode_value(data: bytes | str) -> Any:
    """A stored JSON text back to a fresh Python value."""
    return _decoder.decode(data)


def _invalid(group: str, key: str, value: Any, exc: BaseException | None,
             problem: str | None = None) -> InvalidStateValue:
    problem = problem or _find_problem(value)
    if problem is None:  # msgspec refused something the walk allows: too deep, a cycle, a subclass
        problem = f"it cannot be encoded ({type(exc).__name__}: {exc})"
        if isinstance(exc, RecursionError):
            problem += ", so it is nested too deeply or contains itself"
    return InvalidStateValue(
        f"cannot store the value for group {group!r}, key {key!r}: {problem}. State values must "
        "be JSON: dicts with string keys, lists, strings, numbers, booleans or None; convert "
        "dates, sets, bytes and objects first (e.g. to str, list or dict)"
    )


def _find_problem(value: Any) -> str | None:
    """Describe the first non-JSON part of ``value`` (and where it is), or None if all is JSON.

    Iterative and visits each container once, so it finishes on any input, cycles included.
    """
    stack: list[tuple[Any, str]] = [(value, "value")]
    seen: set[int] = set()
    while stack:
        item, path = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:  # shared or cyclic: checked already (a cycle fails to encode)
                continue
            seen.add(id(item))
            problem = _push_children(item, path, stack)
        else:
            problem = _scalar_problem(item, path)
        if problem is not None:
            return problem
    return None


def _scalar_problem(item: Any, path: str) -> str | None:
    if isinstance(item, str):
        return None if _is_text(item) else f"{path} is a string with a lone surrogate"
    if item is None or isinstance(item, int):  # bool is an int
        return None
    if isinstance(item, float):
        return None if math.isfinite(item) else f"{path} is {item!r}, which JSON cannot represent"
    return f"{path} is of type {type(item).__name__} ({_short(item)})"


def _push_children(item: dict[Any, Any] | list[Any] | tuple[Any, ...], path: str,
                   stack: list[tuple[Any, str]]) -> str | None:
    if not isinstance(item, dict):
        stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        return None
    for k, v in item.items():
        if not isinstance(k, str):
            kind = type(k).__name__
            return f"{path} has a key of type {kind} ({_short(k)}); keys must be strings"
        if not _is_text(k):
            return f"{path} has a key with a lone surrogate ({_short(k)})"
        stack.append((v, f"{path}[{k!r}]"))
    return None


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


class StateAdapter(abc.ABC):
    """A place to keep step state: ``MemoryState``, ``SqliteState`` or ``RedisState``.

    Every method is a coroutine; any of them may raise ``StateClosed`` after ``aclose()``. Group
    and key arguments that are not strings raise TypeError. ``get`` and ``delete`` are typed
    ``Any`` rather than ``Any | None`` (None is a JSON value too) so that callers can write
    ``order: dict[str, Any] = await state.get(...)`` under mypy strict.
    """

    async def open(self) -> None:  # noqa: B027  # optional hook: most adapters need no setup
        """Get ready now (create files, migrate) so problems surface at startup, not mid-request.

        Optional: the first operation opens the store too. ``async with`` calls it.
        """

    @abc.abstractmethod
    async def get(self, group: str, key: str) -> Any:
        """The value at ``(group, key)``, or None when there is none (or it is JSON null)."""

    @abc.abstractmethod
    async def set(self, group: str, key: str, value: Any) -> Any:
        """Store ``value`` (replacing any previous one) and return the stored copy."""

    @abc.abstractmethod
    async def delete(self, group: str, key: str) -> Any:
        """Remove ``(group, key)``; return the value it held, or None if there was none."""

    @abc.abstractmethod
    async def get_group(self, group: str) -> list[Any]:
        """Every value in ``group``, in key order; ``[]`` for an unknown group."""

    @abc.abstractmethod
    async def clear(self, group: str) -> None:
        """Remove every key of ``group`` (and nothing of any other group)."""

    @abc.abstractmethod
    async def keys(self, group: str) -> list[str]:
        """Admin: the keys of ``group``, sorted."""

    @abc.abstractmethod
    async def groups(self) -> list[str]:
        """Admin: every group holding at least one key, sorted."""

    @abc.abstractmethod
    async def items(self, group: str | None = None) -> list[StateItem]:
        """Admin: the entries of ``group`` (or of every group), sorted by group then key."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the store's resources. Idempotent; later operations raise ``StateClosed``."""

    async def __aenter__(self: _Adapter) -> _Adapter:
        await self.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()
