"""The HTTP layer served for real on 127.0.0.1 and called with a real aiohttp client.

A fake :class:`ApiHandler` stands in for the app wiring: each route's ``step`` is a function of
the request object (or an exception to raise), and the handler records what it was given.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from motia_core.http import (
    ROUTER_KEY,
    ApiInvocationError,
    ApiOutcome,
    EmitOutcome,
    HttpError,
    HttpSettings,
    IncomingTrace,
    Route,
    RoutesInvalid,
    app_runner,
    create_app,
)
from motia_core.http.policy import OperatorPolicy

pytestmark = pytest.mark.anyio

TRACE = "K7M2Q-5123456"
Step = Callable[[dict[str, Any]], Any]


class FakeHandler:
    def __init__(self) -> None:
        self.calls: list[tuple[Route, dict[str, Any], IncomingTrace]] = []
        self.emits: list[tuple[str, Any, IncomingTrace]] = []

    async def invoke_api(
        self, route: Route, request: dict[str, Any], trace: IncomingTrace
    ) -> ApiOutcome:
        self.calls.append((route, request, trace))
        step: Step | BaseException = route.step
        if isinstance(step, BaseException):
            raise step
        return ApiOutcome(trace_id=TRACE, response=step(request))

    async def emit(self, topic: str, data: Any, trace: IncomingTrace) -> EmitOutcome:
        if topic == "forbidden":
            raise HttpError(403, "Topic not allowed", topic=topic)
        self.emits.append((topic, data, trace))
        return EmitOutcome("EMIT1-0000001", 1)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "runners": {"python": "RUNNING"}}


def echo(request: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "body": request}


def reply(**result: Any) -> Step:
    return lambda _request: result


def crash() -> ApiInvocationError:
    try:
        raise RuntimeError("secret database password in this message")
    except RuntimeError as exc:
        error = ApiInvocationError("step failed", trace_id="CRASH-0000001")
        error.__cause__ = exc
        return error


SCHEMA = {
    "type": "object",
    "required": ["name", "pets"],
    "properties": {
        "name": {"type": "string"},
        "pets": {"type": "array", "items": {"type": "object", "required": ["name"],
                                            "properties": {"name": {"type": "string"}}}},
    },
}

ROUTES = [
    Route("GET", "/users/:id", echo),
    Route("POST", "/echo", echo),
    Route("POST", "/pets", echo, SCHEMA),
    Route("GET", "/pets", echo, SCHEMA),  # documentation only: a GET has no body to check
    Route("GET", "/html", reply(status=200, body="<b>hi</b>")),
    Route("GET", "/text", reply(status=201, body="plain", headers={"Content-Type": "text/plain"})),
    Route("GET", "/bytes", reply(status=200, body=b"\x00\x01\xff")),
    Route("GET", "/buffer", reply(status=200, body={"type": "Buffer", "data": [104, 105, 0]})),
    Route("GET", "/pdf", reply(status=200, body=b"%PDF",
                               headers={"content-type": "application/pdf"})),
    Route("GET", "/cookies", reply(status=200, body={"ok": True},
                                   headers={"Set-Cookie": ["a=1", "b=2"], "X-Count": 3})),
    Route("DELETE", "/items/:id", reply(status=204, body={"ignored": True})),
    Route("GET", "/none", reply()),
    Route("GET", "/bad-status", reply(status="200", body={})),
    Route("GET", "/null", lambda _request: None),
    Route("PATCH", "/crash", crash()),
    Route("PUT", "/plain-crash", ValueError("hidden detail")),
    Route("GET", "/unavailable", HttpError(503, "No runner available", language="python")),
]


@dataclass
class Server:
    session: aiohttp.ClientSession
    handler: FakeHandler
    app: web.Application


@asynccontextmanager
async def serve(routes: Sequence[Route], settings: HttpSettings,
                front_door: bool = True) -> AsyncIterator[Server]:
    """``front_door``: served as the app serves it (``app_runner``), else by a plain
    ``web.AppRunner`` (the app's own routing and middleware for every request)."""
    handler = FakeHandler()
    app = create_app(routes, handler, settings)
    if front_door:
        runner = await app_runner(app)
    else:
        runner = web.AppRunner(app)
        await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as session:
            yield Server(session, handler, app)
    finally:
        await runner.cleanup()


@pytest.fixture(params=[True, False], ids=["front-door", "app-only"])
def front_door(request: pytest.FixtureRequest) -> bool:
    """Every test of the server twice: the answers must not depend on the way in."""
    return bool(request.param)


@pytest.fixture
async def server(request: pytest.FixtureRequest, front_door: bool) -> AsyncIterator[Server]:
    """The server with default settings, or with ``settings(...)``'s."""
    async with serve(ROUTES, getattr(request, "param", HttpSettings()), front_door) as running:
        yield running


def settings(**values: Any) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("server", [HttpSettings(**values)], indirect=True)


# --- the request object --------------------------------------------------------------------------


async def test_get_builds_the_request_object(server: Server) -> None:
    headers = [("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "a=1"), ("Cookie", "b=2"),
               ("Set-Cookie", "s=1"), ("Set-Cookie", "s=2"),
               ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    async with server.session.get("/USERS/a%20b/?tag=x&tag=y&f[k]=v", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["x-trace-id"] == TRACE
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        request = await resp.json()
    assert request["body"] == {}
    assert request["rawBody"] == ""
    assert request["pathParams"] == {"id": "a b"}
    assert request["queryParams"] == {"tag": ["x", "y"], "f": {"k": "v"}}
    assert request["headers"]["x-multi"] == "a, b"
    assert request["headers"]["cookie"] == "a=1; b=2"
    assert request["headers"]["set-cookie"] == ["s=1", "s=2"]
    assert all(name == name.lower() for name in request["headers"])
    _, _, trace = server.handler.calls[0]
    assert trace.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_json_form_text_and_other_bodies(server: Server) -> None:
    raw = '{"a": [1, 2], "b": {"c": null}}'
    async with server.session.post("/echo", data=raw,
                                   headers={"Content-Type": "application/json"}) as resp:
        echoed = await resp.json()
    assert echoed["body"] == {"a": [1, 2], "b": {"c": None}}
    assert echoed["rawBody"] == raw
    async with server.session.post("/echo", data={"user[name]": "Ann", "t": "1"}) as resp:
        form = await resp.json()
    assert form["body"] == {"user": {"name": "Ann"}, "t": "1"}
    assert form["rawBody"] == "user%5Bname%5D=Ann&t=1"
    async with server.session.post("/echo", data="héllo",
                                   headers={"Content-Type": "text/plain; charset=utf-8"}) as resp:
        text = await resp.json()
    assert (text["body"], text["rawBody"]) == ("héllo", "héllo")
    async with server.session.post("/echo", data=b"\x00\x01",
                                   headers={"Content-Type": "application/octet-stream"}) as resp:
        binary = await resp.json()
    assert (binary["body"], binary["rawBody"]) == ({}, "")


async def test_malformed_json_is_400_json_and_the_step_never_runs(server: Server) -> None:
    async with server.session.post("/echo", data=b'{"a": ',
                                   headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert resp.content_type == "application/json"
        payload = await resp.json()
    assert payload["error"] == "Invalid JSON body"
    assert payload["detail"]
    assert server.handler.calls == []


@settings(max_body_bytes=1024)
async def test_oversized_bodies_are_413_json_declared_or_streamed(server: Server) -> None:
    big = b'{"x": "' + b"a" * 2000 + b'"}'
    async with server.session.post("/echo", data=big,
                                   headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
        payload = await resp.json()
    assert payload["error"] == "Request body too large" and payload["limit"] == 1024

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(4):
            yield b"a" * 400

    async with server.session.post("/echo", data=chunks(),
                                   headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"] == "Request body too large"
    async with server.session.post("/echo", data=b"a" * 1024,
                                   headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 200  # exactly at the limit is fine
    assert len(server.handler.calls) == 1


async def test_unknown_routes_are_404_json_naming_method_and_path(server: Server) -> None:
    async with server.session.get("/nowhere") as resp:
        assert resp.status == 404
        payload = await resp.json()
    assert payload["method"] == "GET" and payload["path"] == "/nowhere"
    assert payload["error"] == "Not found" and "GET /nowhere" in payload["message"]
    async with server.session.put("/users/1") as resp:
        assert resp.status == 404
        assert "accepts GET" in (await resp.json())["message"]
    async with server.session.get("/emit") as resp:  # a reserved path, but not for GET
        assert resp.status == 404


# --- body validation -----------------------------------------------------------------------------


async def test_body_schema_failures_list_each_field(server: Server) -> None:
    async with server.session.post("/pets", json={"pets": [{"name": 3}, {}]}) as resp:
        assert resp.status == 400
        payload = await resp.json()
    assert payload["error"] == "Request body validation failed"
    assert {(e["path"], e["keyword"]) for e in payload["errors"]} == {
        ("/name", "required"), ("/pets/0/name", "type"), ("/pets/1/name", "required"),
    }
    assert all(e["message"] for e in payload["errors"])
    assert server.handler.calls == []
    async with server.session.post("/pets", json={"name": "Ann", "pets": []}) as resp:
        assert resp.status == 200
    async with server.session.get("/pets") as resp:
        assert resp.status == 200


@settings(validate_bodies=False)
async def test_body_validation_can_be_turned_off(server: Server) -> None:
    async with server.session.post("/pets", json={"pets": "not a list"}) as resp:
        assert resp.status == 200
    assert len(server.handler.calls) == 1


# --- handler failures ----------------------------------------------------------------------------


async def test_handler_errors_are_500_with_the_stack_only_in_the_log(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="motia_core.http"):
        async with server.session.patch("/crash") as resp:
            assert resp.status == 500
            assert resp.headers["x-trace-id"] == "CRASH-0000001"
            text = await resp.text()
        async with server.session.put("/plain-crash") as resp:
            assert resp.status == 500
            assert "x-trace-id" not in resp.headers
            assert await resp.json() == {"error": "Internal server error"}
    assert text == '{"error":"Internal server error"}'
    assert "secret" not in text
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 2
    assert "PATCH /crash" in logged[0].getMessage()
    assert "secret database password" in caplog.text  # the cause's traceback is in the log
    assert "hidden detail" in caplog.text


@pytest.mark.parametrize("path", ["/none", "/null", "/bad-status"])
async def test_missing_or_malformed_results_are_500(
    server: Server, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="motia_core.http"):
        async with server.session.get(path) as resp:
            assert resp.status == 500
            assert await resp.json() == {"error": "Internal server error"}
            assert resp.headers["x-trace-id"] == TRACE
    assert "invalid response" in caplog.text


async def test_http_errors_from_the_handler_pass_through(server: Server) -> None:
    async with server.session.get("/unavailable") as resp:
        assert resp.status == 503
        assert await resp.json() == {"error": "No runner available", "language": "python"}


# --- response mapping ----------------------------------------------------------------------------


async def test_string_bodies_are_html_unless_a_content_type_was_returned(server: Server) -> None:
    async with server.session.get("/html") as resp:
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert await resp.text() == "<b>hi</b>"
    async with server.session.get("/text") as resp:
        assert resp.status == 201
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await resp.text() == "plain"


async def test_bytes_and_node_buffers_are_binary(server: Server) -> None:
    async with server.session.get("/bytes") as resp:
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert await resp.read() == b"\x00\x01\xff"
    async with server.session.get("/buffer") as resp:
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert await resp.read() == b"hi\x00"
    async with server.session.get("/pdf") as resp:
        assert resp.headers["Content-Type"] == "application/pdf"
        assert await resp.read() == b"%PDF"


async def test_headers_lists_and_empty_statuses(server: Server) -> None:
    async with server.session.get("/cookies") as resp:
        assert resp.headers.getall("Set-Cookie") == ["a=1", "b=2"]
        assert resp.headers["X-Count"] == "3"
        assert await resp.json() == {"ok": True}
    async with server.session.delete("/items/9") as resp:
        assert resp.status == 204
        assert await resp.read() == b""


async def test_head_uses_the_get_route_without_a_body(server: Server) -> None:
    async with server.session.head("/users/7") as resp:
        assert resp.status == 200
        assert resp.headers["x-trace-id"] == TRACE
        assert await resp.read() == b""
    route, request, _ = server.handler.calls[0]
    assert route.method == "GET" and request["pathParams"] == {"id": "7"}


# --- CORS ----------------------------------------------------------------------------------------

ORIGIN = "http://localhost:5173"


async def test_no_origin_gets_a_cors_grant_by_default(server: Server) -> None:
    for origin in (ORIGIN, "https://evil.example"):
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        async with server.session.options("/echo", headers=headers) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers
            assert "Access-Control-Allow-Credentials" not in resp.headers
        async with server.session.get("/users/1", headers={"Origin": origin}) as resp:
            assert resp.status == 200 and "Access-Control-Allow-Origin" not in resp.headers


@settings(cors_origins=["localhost"])
async def test_cors_reflects_the_origin_with_credentials(server: Server) -> None:
    async with server.session.get("/users/1", headers={"Origin": ORIGIN}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in resp.headers["Vary"]
        assert resp.headers["Access-Control-Expose-Headers"] == "x-trace-id, traceparent"
    async with server.session.get("/nowhere", headers={"Origin": ORIGIN}) as resp:
        assert resp.status == 404  # errors carry CORS too, or the browser hides them
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    async with server.session.get("/users/1") as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers


@settings(cors_origins=["localhost"])
async def test_preflight_is_answered_before_routing(server: Server) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
               "Access-Control-Request-Headers": "content-type, authorization"}
    async with server.session.options("/any/path/at/all", headers=headers) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert resp.headers["Access-Control-Allow-Headers"] == "content-type, authorization"
        assert "PUT" in resp.headers["Access-Control-Allow-Methods"]
        assert resp.headers["Access-Control-Max-Age"] == "600"
        assert await resp.read() == b""
    assert server.handler.calls == []


@settings(cors_origins=["https://app.example.com"])
async def test_a_cors_allow_list_only_reflects_listed_origins(server: Server) -> None:
    listed = {"Origin": "https://app.example.com"}
    async with server.session.options("/echo", headers=listed) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    async with server.session.get("/users/1", headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 200
        assert "Access-Control-Allow-Origin" not in resp.headers
        assert "Access-Control-Allow-Credentials" not in resp.headers
    async with server.session.get("/users/1", headers={"Origin": "http://localhost:1"}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers  # "localhost" is not listed


@settings(cors_origins=["*"])
async def test_a_cors_wildcard_grants_any_origin_without_credentials(server: Server) -> None:
    async with server.session.get("/users/1", headers={"Origin": "https://evil.example"}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers


@settings(operators=OperatorPolicy(open=False, token="s3cret"))
async def test_operator_endpoints_need_the_admin_token_when_closed(server: Server) -> None:
    body = {"topic": "t", "data": 1}
    async with server.session.post("/emit", json=body) as resp:
        assert resp.status == 401
        assert "Authorization: Bearer" in (await resp.json())["message"]
    async with server.session.post("/emit", json=body,
                                   headers={"Authorization": "Bearer wrong"}) as resp:
        assert resp.status == 401
    async with server.session.post("/emit", json=body,
                                   headers={"Authorization": "Bearer s3cret"}) as resp:
        assert resp.status == 200
    async with server.session.post("/echo", json=body) as resp:
        assert resp.status != 401  # api steps are not operator endpoints


@settings(operators=OperatorPolicy(open=False))
async def test_operator_endpoints_are_off_without_a_token(server: Server) -> None:
    async with server.session.post("/emit", json={"topic": "t"},
                                   headers={"Authorization": "Bearer "}) as resp:
        assert resp.status == 401
        assert "MOTIA_ADMIN_TOKEN" in (await resp.json())["message"]


# --- system endpoints and hot reload -------------------------------------------------------------


async def test_emit_calls_the_handler_and_echoes(server: Server) -> None:
    body = {"topic": "user.created", "data": {"id": 1}}
    headers = {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
    async with server.session.post("/emit", json=body, headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["x-trace-id"] == "EMIT1-0000001"
        assert await resp.json() == {"success": True, "emitted": body, "subscribers": 1}
    topic, data, trace = server.handler.emits[0]
    assert (topic, data) == ("user.created", {"id": 1})
    assert trace.traceparent == headers["traceparent"]


@pytest.mark.parametrize("body", [{"data": 1}, {"topic": ""}, {"topic": 5}, [1]])
async def test_emit_without_a_topic_is_400(server: Server, body: Any) -> None:
    async with server.session.post("/emit", json=body) as resp:
        assert resp.status == 400
        payload = await resp.json()
    assert payload["error"] == "Missing topic" and '"topic"' in payload["message"]
    assert server.handler.emits == []


async def test_emit_errors_from_the_handler_pass_through(server: Server) -> None:
    async with server.session.post("/emit", json={"topic": "forbidden"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["topic"] == "forbidden"


async def test_health_returns_the_handler_report(server: Server) -> None:
    async with server.session.get("/__motia/health") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "runners": {"python": "RUNNING"}}


async def test_routes_are_replaced_at_runtime(server: Server) -> None:
    router = server.app[ROUTER_KEY]
    router.replace([Route("GET", "/fresh/:x", echo)])
    async with server.session.get("/fresh/1") as resp:
        assert resp.status == 200
    async with server.session.get("/users/1") as resp:
        assert resp.status == 404
    with pytest.raises(RoutesInvalid):
        router.replace([Route("GET", "no-slash", echo)])
    async with server.session.get("/fresh/2") as resp:
        assert resp.status == 200


class Blocking(FakeHandler):
    """Api steps that wait until released, counting how many run at once."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def invoke_api(self, route: Route, request: dict[str, Any],
                         trace: IncomingTrace) -> ApiOutcome:
        self.running += 1
        self.entered.set()
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        return ApiOutcome(trace_id=TRACE, response={"status": 200, "body": {"ok": True}})


async def test_api_requests_past_max_concurrent_invocations_get_503() -> None:
    """Issue 15 item 7: no unbounded pile of api invocations; past the cap a clear 503."""
    handler = Blocking()
    app = create_app([Route("POST", "/slow", echo)], handler,
                     HttpSettings(max_concurrent_invocations=2))
    runner = await app_runner(app)
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as session:
            statuses: list[int] = []

            async def call() -> None:
                async with session.post("/slow", json={}) as resp:
                    statuses.append(resp.status)

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    for _ in range(2):
                        tg.start_soon(call)
                    while handler.running < 2:
                        await handler.entered.wait()
                        handler.entered = anyio.Event()
                    async with session.post("/slow", json={"big": "x" * 1000}) as resp:
                        assert resp.status == 503
                        assert resp.headers["Retry-After"] == "1"
                        body = await resp.json()
                        assert body["error"] == "Service busy"
                        assert "max_concurrent_invocations" in body["message"]
                    async with session.get("/__motia/health") as resp:  # not an api step
                        assert resp.status == 200
                    handler.release.set()
                assert statuses == [200, 200]
                async with session.post("/slow", json={}) as resp:  # places are free again
                    assert resp.status == 200
    finally:
        await runner.cleanup()


def test_max_concurrent_invocations_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrent_invocations"):
        HttpSettings(max_concurrent_invocations=0)


def test_internal_routes_outside_motia_paths_are_refused() -> None:
    """The front door serves every other path to the api steps: an internal route there would
    answer through a plain AppRunner and not through app_runner."""

    async def ok(_request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(ValueError, match="must be under /__motia"):
        create_app([], FakeHandler(), internal=[web.get("/status", ok)])
    create_app([], FakeHandler(), internal=[web.get("/__motia/status", ok)])
