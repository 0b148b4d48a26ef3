"""JSON encoding and decoding, fast when msgspec or orjson is importable, stdlib otherwise.

The runner lives in the user's interpreter, so it may not require anything; it only takes a fast
codec when one happens to be installed. ``MOTIA_RUNNER_JSON=stdlib|msgspec|orjson`` forces one
(tests use it to prove the stdlib path works).

Two encoders exist because the two kinds of data differ:

* ``dumps`` (user data: handler results, state values, log fields) falls back like Motia's Python
  runner did: pydantic models become ``model_dump()``, other objects their ``__dict__``.
* ``dumps_strict`` (step configs) refuses what plain ``json.dumps`` refuses, because Motia's
  ``get-config.py`` used plain ``json.dumps`` and a config with a function in it is a user error
  worth reporting; pydantic model *classes* become their JSON Schema.

Both emit ``NaN``-free JSON (the core's decoder rejects ``NaN``) and turn int keys into strings.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ("BACKEND", "DecodeError", "dumps", "dumps_strict", "loads")


def _plain(obj: Any) -> Any:
    """What Motia's ``default=lambda o: o.__dict__`` made of a non-JSON value, slightly kinder."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump) and not isinstance(obj, type):
        try:
            return dump(mode="json")
        except TypeError:  # pydantic v1 style or a look-alike without `mode`
            return dump()
    return _strict(obj, lenient=True)


def _strict(obj: Any, lenient: bool = False) -> Any:
    schema = getattr(obj, "model_json_schema", None) if isinstance(obj, type) else None
    if callable(schema):  # a pydantic model class used as a schema
        return schema()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, (uuid.UUID, Decimal)):
        return str(obj)
    if lenient and hasattr(obj, "__dict__"):
        return vars(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _strict_hook(obj: Any) -> Any:
    return _strict(obj)


_Codec = tuple[Callable[[Any], bytes], Callable[[Any], bytes], Callable[[Any], Any]]


class DecodeError(ValueError):
    """The bytes are not one JSON value."""


def _stdlib() -> _Codec:
    enc = json.JSONEncoder(default=_plain, allow_nan=False, separators=(",", ":"),
                           ensure_ascii=False).encode
    enc_strict = json.JSONEncoder(default=_strict_hook, allow_nan=False, separators=(",", ":"),
                                  ensure_ascii=False).encode
    raw_loads = json.loads

    def loads(data: Any) -> Any:
        try:
            return raw_loads(data)
        except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise DecodeError(str(exc)) from exc

    return (lambda o: enc(o).encode()), (lambda o: enc_strict(o).encode()), loads


def _msgspec() -> _Codec:
    import msgspec

    enc = msgspec.json.Encoder(enc_hook=_plain).encode
    enc_strict = msgspec.json.Encoder(enc_hook=_strict_hook).encode
    dec = msgspec.json.Decoder().decode
    err = msgspec.DecodeError

    def dumps(obj: Any) -> bytes:
        try:
            return enc(obj)
        except msgspec.EncodeError as exc:  # keep one exception family for callers
            raise TypeError(str(exc)) from exc

    def dumps_strict(obj: Any) -> bytes:
        try:
            return enc_strict(obj)
        except msgspec.EncodeError as exc:
            raise TypeError(str(exc)) from exc

    def loads(data: Any) -> Any:
        try:
            return dec(data)
        except err as exc:
            raise DecodeError(str(exc)) from exc

    return dumps, dumps_strict, loads


def _orjson() -> _Codec:
    import orjson  # type: ignore[import-not-found,unused-ignore]

    opts = orjson.OPT_NON_STR_KEYS
    raw_dumps, raw_loads = orjson.dumps, orjson.loads

    def dumps(obj: Any) -> bytes:
        data: bytes = raw_dumps(obj, default=_plain, option=opts)
        return data

    def dumps_strict(obj: Any) -> bytes:
        data: bytes = raw_dumps(obj, default=_strict_hook, option=opts)
        return data

    def loads(data: Any) -> Any:
        try:
            return raw_loads(data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(str(exc)) from exc

    return dumps, dumps_strict, loads


def _pick() -> tuple[str, _Codec]:
    forced = os.environ.get("MOTIA_RUNNER_JSON", "").strip().lower()
    order = [forced] if forced else ["msgspec", "orjson", "stdlib"]
    makers = {"msgspec": _msgspec, "orjson": _orjson, "stdlib": _stdlib}
    for name in order:
        maker = makers.get(name)
        if maker is None:
            raise SystemExit(f"MOTIA_RUNNER_JSON={forced!r}: expected msgspec, orjson or stdlib")
        try:
            return name, maker()
        except ImportError:
            if forced:
                raise SystemExit(
                    f"MOTIA_RUNNER_JSON={forced!r} but {forced} is not importable here; "
                    f"install it (pip install {forced}) or unset the variable"
                ) from None
    raise AssertionError("unreachable: stdlib always imports")


BACKEND, _codec = _pick()
dumps: Callable[[Any], bytes] = _codec[0]
dumps_strict: Callable[[Any], bytes] = _codec[1]
loads: Callable[[Any], Any] = _codec[2]
