"""The request object an api step receives (contract 3.5), built from an aiohttp request.

``{body, headers, pathParams, queryParams, rawBody}``: ``body`` is parsed for JSON, urlencoded
and text bodies, ``{}`` when nothing was parsed; ``queryParams`` and urlencoded bodies follow the
``qs`` "extended" rules Express uses (``a=1&a=2`` is a list, ``a[b]=1`` a nested object);
``headers`` look like Node's (lower-case names, text values, ``set-cookie`` a list); ``rawBody`` is
the body as text for the parsed types (for signature checks) and ``''`` otherwise.

Bad bodies raise :class:`HttpError`: malformed JSON 400 (so is JSON nested deeper than
:data:`MAX_JSON_DEPTH`, which the runners could not be handed), an unknown charset 415, too large
413, a body cut short by the client going away 400.
"""

from __future__ import annotations

import codecs
import itertools
import re
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from aiohttp import web

from motia_core.http.response import HttpError

__all__ = (
    "JSON_TYPES",
    "MAX_JSON_DEPTH",
    "PARSED_TYPES",
    "QS_PARAMETER_LIMIT",
    "invoke_frame_bytes",
    "node_headers",
    "parse_body",
    "parse_qs",
    "read_body",
    "to_api_request",
)

JSON_TYPES = frozenset({"application/json"})
FORM_TYPE = "application/x-www-form-urlencoded"
TEXT_TYPE = "text/plain"
PARSED_TYPES = JSON_TYPES | {FORM_TYPE, TEXT_TYPE}
# qs's defaults, which Express's query parser and body-parser both use.
QS_PARAMETER_LIMIT = 1000
QS_DEPTH = 5
QS_ARRAY_LIMIT = 20
# Deeper JSON bodies are refused: the decoders on the way to a handler (msgspec here, the runners'
# JSON libraries there) recurse, and stop near 1,000 levels, minus the stack they already use.
MAX_JSON_DEPTH = 512
# Node keeps only the first of these when a request repeats them; the rest are joined with ", ".
_SINGLE_HEADERS = frozenset({
    "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
    "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
    "proxy-authorization", "referer", "retry-after", "server", "user-agent",
})
_BRACKET = re.compile(r"\[[^\[\]]*\]")
# A step.invoke frame carries the body twice, as ``body`` (parsed) and as ``rawBody`` (text), and
# JSON escapes each: a control character becomes ``\u00XX``, six bytes for one. Nothing a body
# parses into is longer (a float such as ``1e15`` re-encodes to 4.5 bytes a byte, a form key
# ``&a`` to 3.5, an undecodable byte in rawBody to 3).
_BODY_COPIES = 2
_MAX_ESCAPED_BYTES_PER_BYTE = 6
# The rest of the frame. Headers: aiohttp takes at most 128 lines of 8,190 bytes, which escape
# to 6 MiB at worst; the request target (8,190 bytes) comes as path and query parameters; then
# the envelope and the trace context.
_FRAME_HEADROOM_BYTES = 8 * 1024 * 1024
_decode_json = msgspec.json.Decoder().decode
# For counting nesting on the raw text: strings (escapes included), every byte but a bracket, and
# each byte's step in depth once braces read as square brackets.
_JSON_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_BRACKET_STEP = tuple(1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256))


def node_headers(request: web.BaseRequest) -> dict[str, str | list[str]]:
    """Request headers the way Node's ``req.headers`` shows them."""
    # The usual request: each name once, ASCII values, no Set-Cookie (which Node makes a list).
    simple: dict[str, str | list[str]] = {
        name.lower(): value for name, value in request.headers.items()}
    if (len(simple) == len(request.headers) and "set-cookie" not in simple
            and all(value.isascii() for value in simple.values())):  # type: ignore[union-attr]
        return simple
    headers: dict[str, str | list[str]] = {}
    for raw_name, raw_value in request.headers.items():
        name = raw_name.lower()
        value = _header_text(raw_value)
        seen = headers.get(name)
        if name == "set-cookie":
            headers[name] = [*(seen or []), value]
        elif seen is None:
            headers[name] = value
        elif name not in _SINGLE_HEADERS:
            headers[name] = f"{seen}{'; ' if name == 'cookie' else ', '}{value}"
    return headers


def _header_text(value: str) -> str:
    """A value that was not UTF-8 (aiohttp keeps its bytes as surrogates, which no JSON encoder
    takes) is read as latin-1, byte for byte, as Node reads every header value."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


# --- qs "extended" parsing -----------------------------------------------------------------------


class _Sparse(dict[int, Any]):
    """A JavaScript array under construction: holes allowed, compacted at the end as qs does."""

    def push(self, value: Any) -> None:
        self[max(self, default=-1) + 1] = value


def _decode(text: str) -> str:
    try:
        return unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        return text.replace("+", " ")


def _segments(key: str) -> list[str]:
    """``a[b][]`` -> ``['a', '[b]', '[]']``; past the depth limit the rest is one segment."""
    first = _BRACKET.search(key)
    segments = [key[: first.start()] if first else key]
    for count, found in enumerate(_BRACKET.finditer(key)):
        if count == QS_DEPTH:
            segments.append("[" + key[found.start() :] + "]")
            break
        segments.append(found.group())
    return segments if segments[0] else segments[1:]


def _nest(segments: list[str], leaf: Any) -> Any:
    """qs's ``parseObject``: the innermost segment wraps the value first."""
    value = leaf
    for segment in reversed(segments):
        if segment == "[]":
            value = _Sparse(enumerate(_items(value) if isinstance(value, _Sparse) else [value]))
            continue
        bracketed = segment.startswith("[") and segment.endswith("]")
        name = segment[1:-1] if bracketed else segment
        if bracketed and name.isdigit() and str(int(name)) == name and int(name) <= QS_ARRAY_LIMIT:
            value = _Sparse({int(name): value})
        else:
            value = {name: value}
    return value


def _items(array: _Sparse) -> list[Any]:
    return [item for _, item in sorted(array.items())]


def _as_object(array: _Sparse) -> dict[str, Any]:
    return {str(index): item for index, item in sorted(array.items())}


def _merge(target: Any, source: Any) -> Any:
    """qs's ``utils.merge``: how ``a[x]=1`` and ``a[y]=2`` end up in one object."""
    if not isinstance(source, dict):
        if isinstance(target, _Sparse):
            target.push(source)
            return target
        if isinstance(target, dict):
            target[source] = True
            return target
        return _Sparse(enumerate([target, source]))
    if not isinstance(target, dict):
        rest = _items(source) if isinstance(source, _Sparse) else [source]
        return _Sparse(enumerate([target, *rest]))
    if isinstance(target, _Sparse) and isinstance(source, _Sparse):
        for index, item in source.items():
            if index not in target:
                target[index] = item
            elif isinstance(target[index], dict) and isinstance(item, dict):
                target[index] = _merge(target[index], item)
            else:
                target.push(item)
        return target
    if isinstance(target, _Sparse):
        target = _as_object(target)
    items = _as_object(source).items() if isinstance(source, _Sparse) else source.items()
    for key, value in items:
        target[key] = _merge(target[key], value) if key in target else value
    return target


def _compact(value: Any) -> Any:
    if isinstance(value, _Sparse):
        return [_compact(item) for item in _items(value)]
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items()}
    return value


def parse_qs(text: str, *, strict_limit: bool = False) -> dict[str, Any]:
    """Parse a query string or urlencoded body as ``qs.parse`` (Express "extended") does.

    More than :data:`QS_PARAMETER_LIMIT` pairs are dropped (a query string), or refused with 413
    when ``strict_limit`` (a body, as body-parser does).
    """
    if not text:
        return {}
    pairs = [part for part in text.split("&") if part]
    if len(pairs) > QS_PARAMETER_LIMIT:
        if strict_limit:
            raise HttpError(413, "Too many parameters", limit=QS_PARAMETER_LIMIT,
                            message=f"a form body may hold at most {QS_PARAMETER_LIMIT} fields")
        pairs = pairs[:QS_PARAMETER_LIMIT]
    flat: dict[str, Any] = {}
    for pair in pairs:
        # `a[b=c]=d` splits at "]=", as qs does, so brackets may hold an "=".
        split = pair.find("]=") + 1 or pair.find("=")
        raw_key, raw_value = (pair, "") if split < 0 else (pair[:split], pair[split + 1 :])
        key, value = _decode(raw_key), _decode(raw_value)
        if not key:
            continue
        seen = flat.get(key)
        if seen is None:
            flat[key] = value
        elif isinstance(seen, _Sparse):
            seen.push(value)
        else:
            flat[key] = _Sparse(enumerate([seen, value]))
    result: dict[str, Any] = {}
    for key, value in flat.items():
        result = _merge(result, _nest(_segments(key), value))
    compacted: dict[str, Any] = _compact(result)
    return compacted


# --- bodies --------------------------------------------------------------------------------------


def _is_json(content_type: str) -> bool:
    return content_type in JSON_TYPES or content_type.endswith("+json")


def _has_body(request: web.BaseRequest) -> bool:
    """Whether the request declares a body at all (type-is's ``hasBody``)."""
    length = request.headers.get("Content-Length")
    return "Transfer-Encoding" in request.headers or (length is not None and length.isdigit())


def _too_large(limit: int) -> HttpError:
    return HttpError(413, "Request body too large", limit=limit,
                     message=f"the body exceeds the limit of {limit} bytes; send less or raise "
                             "the server's max body size setting")


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it grows past ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ConnectionResetError as exc:
        # The client hung up before the end of its body: its mistake (or its choice), not a bug
        # of ours; nobody is left to read the answer.
        raise HttpError(400, "Incomplete body", received=size, detail=str(exc)) from exc
    return b"".join(chunks)


def _text(raw: bytes, charset: str | None) -> str:
    encoding = charset or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise HttpError(415, "Unsupported charset", charset=encoding,
                        message=f"cannot decode a body in {encoding!r}; send it as utf-8") from exc
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise HttpError(400, "Invalid body encoding", charset=encoding, detail=str(exc)) from exc


def parse_body(raw: bytes, content_type: str, charset: str | None) -> Any:
    """The parsed body for one of :data:`PARSED_TYPES` (and ``+json`` types); ``{}`` when empty."""
    if content_type == TEXT_TYPE:
        return _text(raw, charset)
    if not raw:
        return {}
    if content_type == FORM_TYPE:
        return parse_qs(_text(raw, charset), strict_limit=True)
    text = _text(raw, charset).removeprefix("\ufeff")
    try:
        body = _decode_json(text)
    except msgspec.DecodeError as exc:
        raise HttpError(400, "Invalid JSON body", detail=str(exc)) from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    if _deeper_than(text, MAX_JSON_DEPTH):
        raise _too_deep()
    if not isinstance(body, (dict, list)):
        # body-parser's strict mode, which Express uses by default.
        raise HttpError(400, "Invalid JSON body",
                        detail=f"the top-level value must be an object or an array, "
                               f"not {type(body).__name__}")
    return body


def _too_deep() -> HttpError:
    return HttpError(400, "Invalid JSON body",
                     detail=f"the body is nested deeper than {MAX_JSON_DEPTH} levels; send "
                            "flatter JSON")


def _deeper_than(text: str, limit: int) -> bool:
    """Whether valid JSON ``text`` nests more than ``limit`` arrays and objects.

    Counted on the text at C speed rather than by walking the decoded value (seconds for a body
    of millions of small arrays): strings dropped, brackets kept as ``[``/``]``, then the
    innermost pairs, every one of the deepest level among them, removed in one pass; the depth is
    one more than the greatest running count of what is left.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    data = _JSON_STRINGS.sub(b"", text.encode("utf-8", "surrogatepass"))
    inner = data.translate(_AS_SQUARE, _NOT_BRACKETS).replace(b"[]", b"")
    return max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, inner)), default=0) + 1 > limit


def invoke_frame_bytes(max_body_bytes: int) -> int:
    """The ``step.invoke`` frame limit that any request with a body of up to ``max_body_bytes``
    fits in, whatever the body holds: the runners must be given at least this much."""
    return _BODY_COPIES * _MAX_ESCAPED_BYTES_PER_BYTE * max_body_bytes + _FRAME_HEADROOM_BYTES


async def to_api_request(
    request: web.BaseRequest, path_params: dict[str, str], max_body_bytes: int
) -> dict[str, Any]:
    """Build the step's ``req`` from an aiohttp request (reads and parses the body)."""
    body: Any = {}
    raw_text = ""
    # Whether there is a body first: parsing the Content-Type costs more than a GET's rest.
    if _has_body(request):
        content_type = request.content_type
        if content_type in PARSED_TYPES or _is_json(content_type):
            raw = await read_body(request, max_body_bytes)
            body = parse_body(raw, "application/json" if _is_json(content_type)
                              else content_type, request.charset)
            raw_text = raw.decode("utf-8", errors="replace")
    return {
        "body": body,
        "headers": node_headers(request),
        "pathParams": path_params,
        "queryParams": parse_qs(request.rel_url.raw_query_string),
        "rawBody": raw_text,
    }
