"""Bad HTTP, tried for real: malformed requests thrown at the real server over raw TCP.

A real app (MotiaTestApp, a real Python runner) listens on 127.0.0.1; each case is the bytes of
one request, written on a fresh connection, and the answer is read back without an HTTP client (so
nothing tidies the request up on the way). A client's mistake is answered with a 4xx, or, when
the HTTP itself cannot be parsed, possibly a closed connection; never a 5xx, never an error logged
as ours. After every case the server answers a normal request, and every event it accepted
(``POST /emit`` answered 200) is processed by the step subscribed to it.

The seeded cases print their seed; FUZZ_SEED=<seed> reproduces (or varies) them.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from motia_core.http.request import MAX_JSON_DEPTH
from motia_core.testing import MotiaTestApp

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

SEED = int(os.environ.get("FUZZ_SEED", "20240611"))
RANDOM_CASES = 300
CLOSED = None  # the server hung up without an answer
PARSE_ERROR = frozenset({400, CLOSED})  # what unparseable HTTP may get

STEPS = {
    "echo_step.py": '''
config = {"type": "api", "name": "Echo", "path": "/echo", "method": "POST", "emits": []}


async def handler(req, ctx):
    return {"status": 200, "body": {"body": req["body"], "query": req["queryParams"],
                                    "name": req["headers"].get("x-name")}}
''',
    "item_step.py": '''
config = {"type": "api", "name": "Item", "path": "/items/:id", "method": "GET", "emits": []}


async def handler(req, ctx):
    return {"status": 200, "body": {"id": req["pathParams"]["id"], "query": req["queryParams"]}}
''',
    "typed_step.py": '''
config = {"type": "api", "name": "Typed", "path": "/typed", "method": "POST", "emits": [],
          "bodySchema": {"type": "object", "properties": {"n": {"type": "integer"}},
                         "required": ["n"]}}


async def handler(req, ctx):
    return {"status": 201, "body": req["body"]}
''',
    "record_step.py": '''
config = {"type": "event", "name": "Record", "subscribes": ["tick"], "emits": []}


async def handler(input, ctx):
    await ctx.state.set("seen", str(input["n"]), True)
''',
}


# --- a raw client ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int | None
    body: bytes = b""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def _parse(received: bytes, *, eof: bool, head: bool) -> Reply | None:
    """The final answer in ``received``; None while more bytes are needed."""
    end = received.find(b"\r\n\r\n")
    if end < 0:
        return Reply(CLOSED) if eof else None
    status_line, *lines = received[:end].split(b"\r\n")
    status = int(status_line.split()[1])
    body = received[end + 4:]
    if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
        return _parse(body, eof=eof, head=head)
    headers = dict(line.lower().split(b":", 1) for line in lines if b":" in line)
    length = int(headers.get(b"content-length", b"-1"))
    if head or status in (204, 304) or 0 <= length <= len(body):
        return Reply(status, body[:length] if length >= 0 else body)
    return Reply(status, body) if eof else None


async def exchange(port: int, data: bytes, *, hang_up: bool = False) -> Reply:
    """Write one raw request on a new connection and read the answer (a closed connection is
    ``Reply(None)``). ``hang_up`` closes the connection right after writing instead."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        try:
            await stream.send(data)
        except anyio.BrokenResourceError:
            pass  # it hung up on us mid-request; whatever it said first is still readable
        if hang_up:
            return Reply(CLOSED)
        received = b""
        head = data.startswith(b"HEAD ")
        with anyio.fail_after(20):
            while (reply := _parse(received, eof=False, head=head)) is None:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    reply = _parse(received, eof=True, head=head)
                    assert reply is not None
                    break
    return reply


def http(method: bytes, target: bytes, *headers: bytes, body: bytes = b"",
         content_type: bytes | None = b"application/json", version: bytes = b"HTTP/1.1",
         length: bool = True) -> bytes:
    """A request with Host and Connection: close, and a Content-Length matching ``body``."""
    lines = [method + b" " + target + b" " + version, b"Host: 127.0.0.1",
             b"Connection: close", *headers]
    if body and content_type is not None:
        lines.append(b"Content-Type: " + content_type)
    if body and length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def emit(topic: Any, data: Any = None, **extra: Any) -> bytes:
    body = json.dumps({"topic": topic, "data": data, **extra}).encode()
    return http(b"POST", b"/emit", body=body)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the cases -------------------------------------------------------------------------------


HEALTH = http(b"GET", b"/__motia/health")
POST = b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"

# name -> (request, the statuses it may get)
HAND_WRITTEN: dict[str, tuple[bytes, frozenset[int | None]]] = {
    "a request line that is not HTTP": (b"HELLO\r\n\r\n", PARSE_ERROR),
    "a TLS handshake": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32), PARSE_ERROR),
    "the HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", PARSE_ERROR),
    "an unknown HTTP version": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", PARSE_ERROR | {505}),
    "a NUL in the method": (b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", PARSE_ERROR),
    "no Host in HTTP/1.1": (b"GET /__motia/health HTTP/1.1\r\n\r\n", PARSE_ERROR),
    "two Hosts": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", PARSE_ERROR),
    "a header without a colon": (b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
                                 PARSE_ERROR),
    "a NUL in a header value": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
                                PARSE_ERROR),
    "a space in a header name": (b"GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", PARSE_ERROR),
    "a header of 100 KB": (http(b"GET", b"/__motia/health", b"X-Big: " + b"a" * 100_000),
                           PARSE_ERROR | {431}),
    "a thousand headers": (http(b"GET", b"/__motia/health",
                                *(b"X-%d: a" % i for i in range(1000))), PARSE_ERROR | {431}),
    "a URL of 100 KB": (http(b"GET", b"/items/" + b"a" * 100_000), PARSE_ERROR | {414}),
    "Content-Length: abc": (POST + b"Content-Length: abc\r\n\r\n", PARSE_ERROR),
    "Content-Length: -1": (POST + b"Content-Length: -1\r\n\r\n", PARSE_ERROR),
    "Content-Length: 1e3": (POST + b"Content-Length: 1e3\r\n\r\n", PARSE_ERROR),
    "two different Content-Lengths": (POST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                                      PARSE_ERROR),
    "Content-Length and chunked": (
        POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", PARSE_ERROR),
    "an unknown Transfer-Encoding": (POST + b"Transfer-Encoding: rot13\r\n\r\n",
                                     PARSE_ERROR | {501}),
    "a chunk size that is not hex": (
        POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", PARSE_ERROR),
    "a chunk longer than its size": (
        POST + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", PARSE_ERROR),
    "a chunk size past 2**64": (
        POST + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\nx\r\n0\r\n\r\n",
        PARSE_ERROR | {413}),
    "well-formed chunks": (
        POST + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\n{\"a\r\n5\r\n\": 1}\r\n0\r\n\r\n", frozenset({200})),
    "invalid UTF-8 in a JSON body": (http(b"POST", b"/echo", body=b'{"a": "\xff\xfe"}'),
                                     frozenset({400})),
    "a lone surrogate in a JSON body": (http(b"POST", b"/echo", body=b'{"a": "\\ud800"}'),
                                        frozenset({400})),
    "a number too big for JSON": (http(b"POST", b"/echo", body=b'{"a": 1e400}'),
                                  frozenset({400})),
    "a JSON body that is a bare string": (http(b"POST", b"/echo", body=b'"x"'),
                                          frozenset({400})),
    "truncated JSON": (http(b"POST", b"/echo", body=b'{"a": [1, 2'), frozenset({400})),
    "JSON nested 100,000 deep": (http(b"POST", b"/echo", body=nested(100_000)),
                                 frozenset({400})),
    "JSON nested one level too deep": (http(b"POST", b"/echo", body=nested(MAX_JSON_DEPTH + 1)),
                                       frozenset({400})),
    "JSON nested as deep as allowed": (http(b"POST", b"/echo", body=nested(MAX_JSON_DEPTH)),
                                       frozenset({200})),
    "an unknown charset": (http(b"POST", b"/echo", body=b"{}",
                                content_type=b"application/json; charset=klingon"),
                           frozenset({415})),
    "XML to a route with a body schema": (http(b"POST", b"/typed", body=b"<n>1</n>",
                                               content_type=b"text/xml"), frozenset({400})),
    "the wrong type for a schema field": (http(b"POST", b"/typed", body=b'{"n": "1"}'),
                                          frozenset({400})),
    "a form body with invalid UTF-8": (http(b"POST", b"/echo", body=b"a=%ff&b=\xff",
                                            content_type=b"application/x-www-form-urlencoded"),
                                       frozenset({400})),
    "invalid UTF-8 in the path": (http(b"GET", b"/items/\xff\xfe"), PARSE_ERROR),
    "invalid UTF-8 in the query": (http(b"GET", b"/items/1?q=\xff"), PARSE_ERROR),
    "%ff in a path parameter": (http(b"GET", b"/items/%ff%c3?q=%ff"), frozenset({200})),
    "%ff in an unknown path": (http(b"GET", b"/nope/%ff"), frozenset({404})),
    "a bare % in the path": (http(b"GET", b"/items/%"), frozenset({200, 400, 404})),
    "an absolute URL": (http(b"GET", b"http://elsewhere/items/1"), frozenset({200, 404})),
    "invalid UTF-8 in a header the step reads": (
        http(b"POST", b"/echo", b"X-Name: caf\xc3\xa9 \xff", b"Cookie: a=\xfe", b"traceparent: "
             b"\xff", body=b"{}"), frozenset({200})),
    "a WebSocket upgrade without a key": (http(b"GET", b"/", b"Upgrade: websocket",
                                               b"Connection: Upgrade"), frozenset({400})),
    "an Expect the server cannot meet": (http(b"POST", b"/echo", b"Expect: 200-ok", body=b"{}"),
                                         frozenset({200, 417})),
    "POST /emit with a number for a topic": (emit(5), frozenset({400})),
    "POST /emit with an empty topic": (emit(""), frozenset({400})),
    "POST /emit with a null topic": (emit(None), frozenset({400})),
    "POST /emit with a list for a topic": (emit(["tick"]), frozenset({400})),
    "POST /emit with an object for a topic": (emit({"tick": 1}), frozenset({400})),
    "POST /emit with an array body": (http(b"POST", b"/emit", body=b'[{"topic": "tick"}]'),
                                      frozenset({400})),
    "POST /emit with no body": (http(b"POST", b"/emit"), frozenset({400})),
    "POST /emit with JSON as text/plain": (
        http(b"POST", b"/emit", body=b'{"topic": "tick"}', content_type=b"text/plain"),
        frozenset({400})),
    "POST /emit with XML": (http(b"POST", b"/emit", body=b"<topic>tick</topic>",
                                 content_type=b"application/xml"), frozenset({400})),
    "POST /emit with invalid UTF-8": (http(b"POST", b"/emit", body=b'{"topic": "t\xff"}'),
                                      frozenset({400})),
    "GET /emit": (http(b"GET", b"/emit"), frozenset({404, 405})),
}


class HttpFuzzer:
    """Seeded requests: a request line, headers and a body, each drawn from pools of the odd
    and the broken. Framing stays consistent (Content-Length is the body's), so the server never
    waits for bytes that will not come; framing errors are in the hand-written cases."""

    METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS", b"BREW",
               b"get", b"P@ST", b"G\x00T", b"", b"POST POST")
    TARGETS = (b"/echo", b"/typed", b"/emit", b"/items/1", b"/items/%ff", b"/items/\xff",
               b"/nope/%c3", b"*", b"http://x/echo", b"//echo", b"/../../etc/passwd",
               b"/items/%zz", b"/echo?%", b"/echo?a[b][c][d][e][f][g]=1", b"/echo#frag",
               b"/echo?a=1&a=2&b[]=3", b"", b"/items/ 1", b"/items/\x00", b"/__motia/health")
    VERSIONS = (b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.x", b"http/1.1",
                b"", b"HTTP/1.1 extra")
    HEADER_NAMES = (b"X-A", b"traceparent", b"tracestate", b"Cookie", b"Origin", b"Accept",
                    b"X-Name", b"Authorization", b"X-\xff", b"X A", b"", b"X-A\x00", b"Upgrade",
                    b"Access-Control-Request-Method", b"X-Forwarded-For")
    HEADER_VALUES = (b"", b"\xff\xfe", b"caf\xc3\xa9", b"\x00", b"websocket", b"null",
                     b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", b"00-zz-zz-zz",
                     b"a\tb", b" padded ", b"\x7f")
    CONTENT_TYPES = (b"application/json", b"application/json; charset=utf-8",
                     b"application/json; charset=latin-1", b"application/vnd.api+json",
                     b"text/plain", b"text/plain; charset=utf-16", b"text/xml",
                     b"application/x-www-form-urlencoded", b"multipart/form-data",
                     b"application/octet-stream", b"", b"json", b";;;", b"application/json;;")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ticks = 0

    def json_value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.randrange(8 if depth < 3 else 5)
        if kind == 0:
            return rng.choice([None, True, False])
        if kind == 1:
            return rng.choice([0, -1, 2**53 + 1, 2**70, 1.5, -1e300])
        if kind in (2, 3, 4):
            return "".join(rng.choice("ab \"\\/\n\t\u00e9\u2028\U0001f600") for _ in
                           range(rng.randrange(8)))
        if kind in (5, 6):
            return [self.json_value(depth + 1) for _ in range(rng.randrange(4))]
        return {self.json_value(3) if rng.random() < 0.9 else "topic": self.json_value(depth + 1)
                for _ in range(rng.randrange(4))}

    def body(self) -> bytes:
        rng = self.rng
        choice = rng.randrange(10)
        if choice < 3:
            return json.dumps(self.json_value()).encode()
        if choice == 3:
            return nested(rng.randrange(1, 3000))
        if choice == 4:
            return rng.randbytes(rng.randrange(1, 64))
        if choice == 5:
            text = json.dumps(self.json_value()).encode()
            return text[: rng.randrange(len(text) + 1)]
        if choice == 6:
            return rng.choice([b"\xef\xbb\xbf{}", b'"\\ud800"', b"1e400", b'{"a":"\xff"}',
                               b"a=1&b[c]=2&%ff=%fe", b"null", b"[]" * 50, b"{}" + b" " * 100])
        if choice == 7:
            return json.dumps({"topic": self.json_value(3), "data": self.json_value()}).encode()
        return b""

    def headers(self) -> list[bytes]:
        rng = self.rng
        headers = []
        for _ in range(rng.randrange(4)):
            value = rng.choice(self.HEADER_VALUES)
            if rng.random() < 0.1:
                value = b"v" * rng.randrange(1, 20_000)
            headers.append(rng.choice(self.HEADER_NAMES) + b": " + value)
        return headers

    def request(self) -> bytes:
        """A clean ``POST /emit`` of a new tick one time in four; otherwise a mangled request."""
        rng = self.rng
        if rng.random() < 0.25:
            self.ticks += 1
            return emit("tick", {"n": f"fuzz-{self.ticks}"})
        method = rng.choice(self.METHODS) if rng.random() < 0.3 else rng.choice([b"GET", b"POST"])
        target = rng.choice(self.TARGETS)
        version = rng.choice(self.VERSIONS) if rng.random() < 0.3 else b"HTTP/1.1"
        content_type = rng.choice(self.CONTENT_TYPES)
        return http(method, target, *self.headers(), body=self.body(), content_type=content_type,
                    version=version)


# --- the tests -------------------------------------------------------------------------------


def write_project(root: Path) -> Path:
    steps = root / "steps"
    steps.mkdir(parents=True)
    for name, source in STEPS.items():
        (steps / name).write_text(source.lstrip())
    return root


class Accepted:
    """Every tick the server said it accepted (200 from ``POST /emit``)."""

    def __init__(self) -> None:
        self.ticks: set[str] = set()

    def note(self, reply: Reply) -> None:
        if reply.status != 200 or not reply.body.startswith(b'{"success"'):
            return
        emitted = reply.json["emitted"]
        if emitted["topic"] == "tick":
            self.ticks.add(str(emitted["data"]["n"]))


async def assert_still_serving(app: MotiaTestApp, after: str) -> None:
    reply = await exchange(app.port, HEALTH)
    assert reply.status == 200, f"the server stopped serving after {after}"


def errors_logged_as_ours(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors the app logged as its own failures (aiohttp's notes on bad requests are not)."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("motia")]


async def test_every_malformed_request_gets_a_client_error_and_the_server_stays_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    accepted = Accepted()
    async with MotiaTestApp(write_project(tmp_path / "project")) as app:
        wrong = []
        for name, (request, allowed) in HAND_WRITTEN.items():
            reply = await exchange(app.port, request)
            if reply.status not in allowed:
                wrong.append(f"{name}: {reply.status} {reply.body[:200]!r}")
            accepted.note(reply)
            await assert_still_serving(app, name)
        assert not wrong, "\n".join(wrong)

        # A body cut short by a client that hangs up: nothing to answer, nothing to log.
        await exchange(app.port, POST + b"Content-Type: application/json\r\n"
                                        b"Content-Length: 100\r\n\r\n{", hang_up=True)
        await assert_still_serving(app, "a client hung up mid-body")

        # What the step saw of the header that was not UTF-8: its bytes, read as latin-1.
        reply = await exchange(app.port, HAND_WRITTEN[
            "invalid UTF-8 in a header the step reads"][0])
        assert reply.json["name"] == "caf\u00c3\u00a9 \u00ff"
        deep = await exchange(app.port, HAND_WRITTEN["JSON nested one level too deep"][0])
        assert str(MAX_JSON_DEPTH) in deep.json["detail"]

        await app.settle()
        assert accepted.ticks == set()  # none of those was a valid emit
    assert not errors_logged_as_ours(caplog)


async def test_seeded_random_requests_never_get_a_server_error_nor_lose_an_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    print(f"fuzz seed {SEED} (set FUZZ_SEED to change it)")
    fuzzer = HttpFuzzer(SEED)
    accepted = Accepted()
    async with MotiaTestApp(write_project(tmp_path / "project")) as app:
        server_errors = []
        for i in range(RANDOM_CASES):
            request = fuzzer.request()
            reply = await exchange(app.port, request)
            if reply.status is not None and reply.status >= 500:
                server_errors.append(f"case {i}: {reply.status} for {request[:300]!r}")
            accepted.note(reply)
            await assert_still_serving(app, f"case {i} ({request[:100]!r})")
        assert not server_errors, f"seed {SEED}:\n" + "\n".join(server_errors)

        await app.settle()
        # Every clean emit was accepted, and every accepted event was processed.
        assert {f"fuzz-{n}" for n in range(1, fuzzer.ticks + 1)} <= accepted.ticks
        published = {str(e.data["n"]) for e in app.events if e.topic == "tick"}
        assert published == accepted.ticks
        missing = [n for n in accepted.ticks if await app.state.get("seen", n) is not True]
        assert not missing
    assert not errors_logged_as_ours(caplog), f"seed {SEED}"
