"""The aiohttp application that serves api steps, ``POST /emit`` and ``GET /__motia/health``.

This layer knows HTTP and nothing else: it matches a route, builds the step's request object,
validates the body, and hands both to an :class:`ApiHandler` (the app wiring, which owns traces
and runners), then maps what comes back. Every framework answer is JSON, including 404 for an
unknown route; a crash is a 500 ``{"error": "Internal server error"}`` whose stack goes to the
log, never to the client.

CORS differs from the original on purpose (contract 11.17): the original answers ``*`` together
with credentials, which browsers reject. Here only the origins configured in ``cors_origins``
get a grant (:mod:`motia_core.http.policy`): a listed origin is reflected with credentials and
``Vary: Origin``; ``*`` grants any origin without credentials; nothing listed, no grant. The
operator endpoints (``POST /emit``, writes under ``/__motia/``) pass the
:class:`~motia_core.http.policy.OperatorPolicy` first (401 when it refuses).

A WebSocket upgrade on any path (the stream clients connect to the page origin) goes to the
``websocket`` handler given to :func:`create_app`, before routing, CORS and error mapping: the
socket is that handler's from the handshake on. The one exception is the Workbench API
(``/__motia/api/``), whose live socket is one of its routes.

Served through :func:`app_runner` (as the app serves it), a request for an api step skips the
aiohttp app's router, middleware and match info: the server's front door matches it and serves
it with the same code and the same answers; every other request goes through the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from motia_core.http.policy import (
    CorsPolicy,
    OperatorPolicy,
    is_operator_request,
    is_same_origin,
)
from motia_core.http.request import to_api_request
from motia_core.http.response import (
    INTERNAL_ERROR,
    HttpError,
    InvalidResponse,
    json_response,
    temporary_redirect,
    to_response,
)
from motia_core.http.routing import Route, RouteMatch, Router

__all__ = (
    "CORS_MAX_AGE_S",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENT_INVOCATIONS",
    "EMIT_PATH",
    "HANDLER_KEY",
    "HEALTH_PATH",
    "WORKBENCH_API_PREFIX",
    "ROUTER_KEY",
    "SETTINGS_KEY",
    "ApiHandler",
    "ApiInvocationError",
    "ApiOutcome",
    "EmitOutcome",
    "HttpSettings",
    "IncomingTrace",
    "WebSocketHandler",
    "app_runner",
    "create_app",
)

log = logging.getLogger(__name__)

# 1 MiB: 10x the seed's 100 kB, and small enough that a body (plus its rawBody copy, even fully
# JSON-escaped) always fits one step.invoke frame (DEFAULT_MAX_MESSAGE_BYTES, 16 MiB).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
CORS_MAX_AGE_S = 600
DEFAULT_MAX_CONCURRENT_INVOCATIONS = 1024
# What a 503 for too many api requests at once asks the client to wait, in seconds.
BUSY_RETRY_AFTER_S = 1
EMIT_PATH = "/emit"
HEALTH_PATH = "/__motia/health"
# The Workbench API's own socket is a route; a socket on any other path is a stream socket.
WORKBENCH_API_PREFIX = "/__motia/api/"
_ALLOW_METHODS = "GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS"
# Paths the app answers before its api routes (or may): never taken by the front door.
_APP_PATHS = (EMIT_PATH, "/__motia")

WebSocketHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class IncomingTrace:
    """The trace context a client sent (W3C headers, raw); the handler decides what to do."""

    traceparent: str | None = None
    tracestate: str | None = None


@dataclass(frozen=True)
class EmitOutcome:
    """What ``POST /emit`` did: the new trace's id and how many subscribing steps it reached
    (0: no step subscribes to the topic, and the event went nowhere)."""

    trace_id: str
    subscribers: int


@dataclass(frozen=True)
class ApiOutcome:
    """What an api invocation produced: its trace id and the step's ``{status, body, headers?}``."""

    trace_id: str
    response: Any
    # The W3C traceparent of the api step's span, sent back in the `traceparent` header.
    traceparent: str | None = None


class ApiInvocationError(Exception):
    """Raised by an :class:`ApiHandler` for a failed invocation whose trace id is known.

    The client still gets the generic 500, but with the trace id header, so the failure can be
    found in the traces. Chain the real error (``raise ... from exc``): it is what gets logged.
    """

    def __init__(self, message: str, trace_id: str, traceparent: str | None = None) -> None:
        super().__init__(message)
        self.trace_id = trace_id
        self.traceparent = traceparent


class ApiHandler(Protocol):
    """What the HTTP layer needs from the rest of the app."""

    async def invoke_api(
        self, route: Route, request: dict[str, Any], trace: IncomingTrace
    ) -> ApiOutcome: ...

    async def emit(self, topic: str, data: Any, trace: IncomingTrace) -> EmitOutcome:
        """Emit ``data`` on ``topic`` under a new trace: its id, and the subscribers reached."""
        ...

    def health(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class HttpSettings:
    """``cors_origins``: who gets a CORS grant (see :class:`CorsPolicy`; none by default);
    ``operators``: who may call the operator endpoints (open by default, as in ``motia dev``)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    validate_bodies: bool = True
    cors_origins: Sequence[str] = ()
    trace_header: str = "x-trace-id"
    operators: OperatorPolicy = field(default_factory=OperatorPolicy)
    # Where ``GET /`` goes while no api step serves it (the Workbench in ``motia dev``).
    home: str | None = None
    # Api requests served at once (body read, step running); past it a 503 with a JSON error.
    max_concurrent_invocations: int = DEFAULT_MAX_CONCURRENT_INVOCATIONS

    def __post_init__(self) -> None:
        if self.max_body_bytes <= 0:
            raise ValueError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if self.max_concurrent_invocations <= 0:
            raise ValueError("max_concurrent_invocations must be positive, got "
                             f"{self.max_concurrent_invocations}")

    @property
    def cors(self) -> CorsPolicy:
        return CorsPolicy(tuple(self.cors_origins))


ROUTER_KEY = web.AppKey("motia_router", Router)
HANDLER_KEY: web.AppKey[ApiHandler] = web.AppKey("motia_api_handler")
SETTINGS_KEY = web.AppKey("motia_http_settings", HttpSettings)


class _Api:
    """What serving an api request needs, in one place for the front door (which has no app
    request, so no ``request.app``), and how many are being served (body read, step running)."""

    __slots__ = ("handler", "in_flight", "router", "settings")

    def __init__(self, router: Router, handler: ApiHandler, settings: HttpSettings) -> None:
        self.router = router
        self.handler = handler
        self.settings = settings
        self.in_flight = 0


API_KEY = web.AppKey("motia_api", _Api)


# --- CORS and errors (middlewares) ---------------------------------------------------------------


def _vary(response: web.StreamResponse, *names: str) -> None:
    vary = response.headers.get("Vary")
    if not vary:  # the usual case: nothing to merge with
        response.headers["Vary"] = ", ".join(names)
        return
    present = [v.strip() for v in vary.split(",") if v.strip()]
    lowered = {v.lower() for v in present}
    present += [name for name in names if name.lower() not in lowered]
    response.headers["Vary"] = ", ".join(present)


def _preflight(request: web.Request) -> web.Response:
    response = web.Response(status=204, headers={"Allow": _ALLOW_METHODS})
    response.headers["Access-Control-Allow-Methods"] = _ALLOW_METHODS
    requested = request.headers.get("Access-Control-Request-Headers")
    if requested:
        response.headers["Access-Control-Allow-Headers"] = requested
    if request.headers.get("Access-Control-Request-Private-Network") == "true":
        response.headers["Access-Control-Allow-Private-Network"] = "true"
    response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
    _vary(response, "Access-Control-Request-Headers")
    return response


def _front(websocket: WebSocketHandler | None) -> Any:
    """The app's one middleware, one layer per request where four were: WebSocket upgrades
    first, then every OPTIONS answered before routing, the operator policy, every failure as a
    JSON answer, and CORS headers on every response but an upgrade's."""

    @web.middleware
    async def front(request: web.Request, handler: Any) -> web.StreamResponse:
        if (websocket is not None
                and request.headers.get("Upgrade", "").strip().lower() == "websocket"
                and not request.path.startswith(WORKBENCH_API_PREFIX)):
            return await websocket(request)
        response: web.StreamResponse = _preflight(request) if request.method == "OPTIONS" else (
            _operator_refusal(request) or await _answered(request, handler))
        _cors(request, response, request.app[SETTINGS_KEY])
        return response

    return front


def _cors(request: web.BaseRequest, response: web.StreamResponse,
          settings: HttpSettings) -> None:
    """The CORS headers of a response."""
    _vary(response, "Origin")
    origin = request.headers.get("Origin")
    if not origin:
        return
    grant = settings.cors.grant(origin)
    if grant is None:
        return
    if grant == "credentials":
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method != "OPTIONS":
        response.headers["Access-Control-Expose-Headers"] = f"{settings.trace_header}, traceparent"


def _operator_refusal(request: web.Request) -> web.Response | None:
    """Refuse an operator endpoint the policy does not let in (401, saying how to get in)."""
    if not is_operator_request(request.method, request.path):
        return None
    settings = request.app[SETTINGS_KEY]
    origin = request.headers.get("Origin")
    if origin and not is_same_origin(origin, request.host) and settings.cors.grant(
            origin) is None:
        return json_response(403, {"error": "Forbidden", "message": (
            f"operator endpoints refuse requests from pages on {origin!r}; list that "
            "origin in [http] cors_origins to allow it")})
    refusal = settings.operators.refusal(request.headers.get("Authorization"), request.remote)
    if refusal is None:
        return None
    response = json_response(401, {"error": "Unauthorized", "message": refusal})
    response.headers["WWW-Authenticate"] = 'Bearer realm="motia operator endpoints"'
    return response


async def _answered(request: web.BaseRequest, handler: Any, *args: Any) -> web.StreamResponse:
    """Turn every failure into a JSON answer; only our own bugs are logged with a stack."""
    try:
        response: web.StreamResponse = await handler(request, *args)
        return response
    except HttpError as exc:
        return json_response(exc.status, exc.payload())
    except web.HTTPException as exc:
        return json_response(exc.status, {"error": exc.reason})
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path,
                      extra={"action": "http.error"})
        return json_response(500, INTERNAL_ERROR)


# --- endpoints -----------------------------------------------------------------------------------


_NO_TRACE = IncomingTrace()


def _incoming_trace(request: web.BaseRequest) -> IncomingTrace:
    headers = request.headers
    traceparent, tracestate = headers.get("traceparent"), headers.get("tracestate")
    if traceparent is None and tracestate is None:
        return _NO_TRACE
    return IncomingTrace(traceparent, tracestate)


def _traced(response: web.Response, trace_id: str | None, settings: HttpSettings,
            traceparent: str | None = None) -> web.Response:
    if trace_id:
        response.headers[settings.trace_header] = trace_id
    if traceparent:
        response.headers["traceparent"] = traceparent
    return response


def _not_found(router: Router, method: str, path: str) -> HttpError:
    others = router.methods_for(path)
    hint = f" (this path accepts {', '.join(others)})" if others else ""
    return HttpError(404, "Not found", method=method, path=path,
                     message=f"no api step serves {method} {path}{hint}")


async def _invoke(request: web.BaseRequest, route: Route, api_request: dict[str, Any],
                  api: _Api) -> web.Response:
    settings = api.settings
    where = f"{route.method} {route.path}"
    try:
        outcome = await api.handler.invoke_api(route, api_request, _incoming_trace(request))
    except HttpError:
        raise
    except Exception as exc:
        failed = exc if isinstance(exc, ApiInvocationError) else None
        trace_id = failed.trace_id if failed else None
        log.error("api step %s failed for %s %s", where, request.method, request.path,
                  exc_info=exc, extra={"action": "http.step_failed", "trace_id": trace_id})
        return _traced(json_response(500, INTERNAL_ERROR), trace_id, settings,
                       failed.traceparent if failed else None)
    try:
        response = to_response(outcome.response)
    except InvalidResponse as exc:
        log.error("api step %s returned an invalid response: %s", where, exc,
                  extra={"action": "http.invalid_response", "trace_id": outcome.trace_id})
        response = json_response(500, INTERNAL_ERROR)
    return _traced(response, outcome.trace_id, settings, outcome.traceparent)


async def _dispatch(request: web.Request) -> web.Response:
    api = request.app[API_KEY]
    path = request.rel_url.raw_path
    match = api.router.match(request.method, path)
    if match is None:
        if path == "/" and api.settings.home is not None and request.method in ("GET", "HEAD"):
            return temporary_redirect(api.settings.home, request.query_string)
        raise _not_found(api.router, request.method, request.path)
    return await _serve(request, match, api)


async def _serve(request: web.BaseRequest, match: RouteMatch, api: _Api) -> web.Response:
    """Serve one api request whose route matched: the in-flight limit, then the body, its
    validation and the step."""
    settings = api.settings
    limit = settings.max_concurrent_invocations
    if api.in_flight >= limit:
        # Before the body is read: a flood must not hold a body (or a task in a runner) each.
        log.warning("refused %s %s: %d api requests already in progress ([http] "
                    "max_concurrent_invocations)", request.method, request.path, limit,
                    extra={"action": "http.busy"})
        return json_response(503, {"error": "Service busy", "message": (
            f"{limit} api requests are already in progress, the most this server serves at once "
            "([http] max_concurrent_invocations); retry shortly")},
            headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})
    api.in_flight += 1
    try:
        api_request = await to_api_request(request, match.path_params, settings.max_body_bytes)
        if match.validator is not None and settings.validate_bodies and request.method not in (
            "GET", "HEAD"
        ):
            errors = match.validator.errors(api_request["body"])
            if errors:
                raise HttpError(400, "Request body validation failed",
                                errors=[error.to_json() for error in errors])
        return await _invoke(request, match.route, api_request, api)
    finally:
        api.in_flight -= 1


async def _emit(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    body = (await to_api_request(request, {}, settings.max_body_bytes))["body"]
    topic = body.get("topic") if isinstance(body, dict) else None
    if not isinstance(topic, str) or not topic:
        raise HttpError(400, "Missing topic", message=(
            'POST /emit expects a JSON body {"topic": "<topic>", "data": <any JSON>} with a '
            "non-empty string topic, sent with Content-Type: application/json"))
    data = body.get("data")
    outcome = await request.app[HANDLER_KEY].emit(topic, data, _incoming_trace(request))
    emitted = {"topic": topic, "data": data}
    # The original's answer, plus how many subscribers got it (0 is not an error: it is logged).
    return _traced(json_response(200, {"success": True, "emitted": emitted,
                                       "subscribers": outcome.subscribers}),
                   outcome.trace_id, settings)


async def _health(request: web.Request) -> web.Response:
    return json_response(200, request.app[HANDLER_KEY].health())


def _front_door(api: _Api, app_handler: Callable[[web.BaseRequest], Awaitable[
        web.StreamResponse]]) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """The server's request handler: a request for an api step is served here, without the
    app's router, middleware and match info (the larger part of aiohttp's own cost per
    request); anything else goes to ``app_handler``, the app as aiohttp serves it.

    "Anything else" is every request the app treats specially before its api routes: an
    OPTIONS preflight, an upgrade, ``Expect: 100-continue``, ``/emit`` and ``/__motia...``
    (matched, as aiohttp matches them, on the decoded path), and a path no api step serves (the
    404 and the redirect home). The answer is the one the app gives, CORS headers included.
    """

    async def front_door(request: web.BaseRequest) -> web.StreamResponse:
        headers = request.headers
        if (request.method == "OPTIONS" or "Upgrade" in headers or "Expect" in headers
                or request.path.startswith(_APP_PATHS)):
            return await app_handler(request)
        match = api.router.match(request.method, request.rel_url.raw_path)
        if match is None:
            return await app_handler(request)
        response = await _answered(request, _serve, match, api)
        _cors(request, response, api.settings)
        return response

    return front_door


async def app_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """An ``AppRunner`` for :func:`create_app`'s app, set up, whose server serves api requests
    through the front door (same answers, less work). ``kwargs`` go to ``web.AppRunner``.
    Serve it with ``web.TCPSite(runner, ...)``; ``await runner.cleanup()`` at the end."""
    runner = web.AppRunner(app, **kwargs)
    await runner.setup()
    server = runner.server
    assert server is not None  # setup() made it
    server.request_handler = _front_door(app[API_KEY], server.request_handler)
    return runner


def create_app(
    routes: Sequence[Route], handler: ApiHandler, settings: HttpSettings | None = None,
    *, websocket: WebSocketHandler | None = None, internal: Sequence[web.RouteDef] = (),
) -> web.Application:
    """The aiohttp app; swap its routes later with ``app[ROUTER_KEY].replace(routes)``.

    Raises :class:`~motia_core.http.routing.RoutesInvalid` when a route cannot be served.
    ``POST /emit`` and ``GET /__motia/health`` are reserved and answered before api steps.
    ``websocket`` serves every WebSocket upgrade, whatever its path. ``internal`` routes (the
    app's own endpoints under ``/__motia``) are answered before api steps too.
    """
    for route in internal:
        if not route.path.startswith("/__motia"):
            # The front door (app_runner) takes every other path for the api steps.
            raise ValueError(f"internal route {route.path!r} must be under /__motia")
    app = web.Application(middlewares=[_front(websocket)])
    settings = settings or HttpSettings()
    api = app[API_KEY] = _Api(Router(routes), handler, settings)
    app[ROUTER_KEY] = api.router
    app[HANDLER_KEY] = handler
    app[SETTINGS_KEY] = settings
    app.router.add_post(EMIT_PATH, _emit)
    app.router.add_get(HEALTH_PATH, _health)
    app.router.add_routes(internal)
    # [\s\S], not ".": aiohttp matches the decoded path, where %0A is a newline.
    app.router.add_route("*", r"/{tail:[\s\S]*}", _dispatch)
    return app
