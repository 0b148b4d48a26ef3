"""From a handler's ``{status, body, headers?}`` to an aiohttp response, as Express sent it.

The mapping follows the late original (contract 3.6): headers first, then the status; a string
body goes out as ``text/html; charset=utf-8`` unless the handler chose a Content-Type (whose
charset becomes utf-8, as ``res.send`` does); bytes, and Node Buffers serialised as
``{"type": "Buffer", "data": [...]}``, go out as ``application/octet-stream``; anything else is
JSON. Errors the framework produces itself are JSON too, via :class:`HttpError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

__all__ = ("INTERNAL_ERROR", "HttpError", "InvalidResponse", "json_response", "temporary_redirect",
           "to_response")

INTERNAL_ERROR: dict[str, str] = {"error": "Internal server error"}

_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_BINARY = "application/octet-stream"
# aiohttp computes these from the body it sends; a handler's copy would contradict it.
_COMPUTED = frozenset({"content-length", "transfer-encoding"})
_CHARSET = re.compile(r";\s*charset=[^;]*", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_encode = msgspec.json.Encoder().encode


class HttpError(Exception):
    """An error answered with ``status`` and the JSON body ``{"error": error, **detail}``.

    Raised by the request parser, and also allowed from an :class:`ApiHandler` method (for
    example 503 when no runner can take the step): it is sent as is, never logged as a crash.
    """

    def __init__(self, status: int, error: str, **detail: Any) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        return {"error": self.error, **self.detail}


class InvalidResponse(TypeError):
    """A handler returned something that is not ``{status, body?, headers?}``: a 500, logged."""


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    response = web.Response(status=status, body=_encode(payload), headers=headers)
    response.headers["Content-Type"] = _JSON
    return response


def temporary_redirect(location: str, query_string: str = "") -> web.Response:
    """A 307 to ``location``, keeping the query. Temporary, not 308: a browser caches a permanent
    redirect and would keep following it after the route starts being served. Returned, not
    raised: the error middleware turns raised HTTP errors into JSON, without their Location."""
    return web.Response(status=307, headers={
        "Location": location + (f"?{query_string}" if query_string else "")})


def _header_values(name: str, value: Any) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in values:
        if item is None or isinstance(item, (dict, list)):
            raise InvalidResponse(f"header {name!r} has a value that is not text: {item!r}")
        text = str(item).lower() if isinstance(item, bool) else str(item)
        if "\r" in text or "\n" in text:
            raise InvalidResponse(f"header {name!r} contains a line break: {text!r}")
        out.append(text)
    return out


def _apply_headers(response: web.Response, headers: Any) -> None:
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        raise InvalidResponse(f"'headers' must be an object of name -> value, got {headers!r}")
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidResponse(f"{name!r} is not a valid header name")
        if name.lower() in _COMPUTED:
            continue
        response.headers.popall(name, None)
        for text in _header_values(name, value):
            response.headers.add(name, text)


def _buffer(body: Any) -> bytes | None:
    """The bytes of a Node Buffer's JSON form, or None when ``body`` is not one."""
    if not (isinstance(body, dict) and len(body) == 2 and body.get("type") == "Buffer"):
        return None
    data = body.get("data")
    if not isinstance(data, list):
        return None
    try:
        return bytes(data)
    except (TypeError, ValueError) as exc:
        raise InvalidResponse(f"a Buffer body holds something other than bytes: {exc}") from exc


def _set_body(response: web.Response, result: Mapping[str, Any]) -> None:
    content_type = response.headers.get("Content-Type")
    if "body" not in result:  # res.json(undefined) sends nothing
        response.headers.setdefault("Content-Type", _JSON)
        return
    body = result["body"]
    if isinstance(body, str):
        if content_type is None:
            response.headers["Content-Type"] = _HTML
        else:
            response.headers["Content-Type"] = _CHARSET.sub("", content_type) + "; charset=utf-8"
        response.body = body.encode()
        return
    raw = bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else _buffer(body)
    if raw is not None:
        response.headers.setdefault("Content-Type", _BINARY)
        response.body = raw
        return
    try:
        response.body = _encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidResponse(f"the body cannot be sent as JSON: {exc}") from exc
    response.headers.setdefault("Content-Type", _JSON)


def to_response(result: Any) -> web.Response:
    """Map a handler result; raises :class:`InvalidResponse` (-> 500) when it has no valid shape."""
    if not result:
        raise InvalidResponse(f"the handler returned {result!r}; return {{status, body, headers?}}")
    if not isinstance(result, Mapping):
        raise InvalidResponse(
            f"the handler returned {type(result).__name__}, not an object with 'status'")
    status = result.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise InvalidResponse(f"'status' must be an integer HTTP status (100-999), got {status!r}")
    headers = result.get("headers")
    body = result.get("body")
    if headers is None and isinstance(body, (dict, list)) and _buffer(body) is None:
        # The usual answer, a JSON object or array and no headers, in one go.
        try:
            payload = _encode(body)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InvalidResponse(f"the body cannot be sent as JSON: {exc}") from exc
        return web.Response(status=status, body=payload, headers={"Content-Type": _JSON})
    response = web.Response(status=status)
    _apply_headers(response, headers)
    _set_body(response, result)
    return response
