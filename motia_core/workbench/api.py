"""The Workbench JSON API under ``/__motia/api/`` (docs/workbench-api.md is its contract).

Every read is a JSON twin of a Workbench page and every write is an operator action, guarded by
the operator policy in ``http/server.py`` like ``/emit``. Lists are newest first, paginated with
``limit`` (default 50, at most 500) and an opaque ``cursor``, answered as
``{"items": [...], "nextCursor": str | null}``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from typing import Any

import msgspec
from aiohttp import web

from motia_core import __version__
from motia_core.cron import parse_cron
from motia_core.events import DeadLetter
from motia_core.http.response import HttpError, json_response
from motia_core.observability import LogQuery, TraceQuery, new_trace_id
from motia_core.observability.store.base import LEVEL_RANK, InvalidCursor
from motia_core.project.steps import CronConfig, Step
from motia_core.state import InvalidStateValue
from motia_core.workbench.graph import endpoints, flow_graph, step_id
from motia_core.workbench.live import LiveHub
from motia_core.workbench.source import WorkbenchSource

__all__ = ("API_PREFIX", "DEFAULT_LIMIT", "MAX_LIMIT", "workbench_routes")

API_PREFIX = "/__motia/api"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_STATUSES = ("running", "completed", "failed")
Handler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def _int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise HttpError(400, f"query parameter {name}={raw!r} is not an integer",
                        parameter=name) from None


def _page(request: web.Request) -> tuple[int, str | None]:
    limit = _int(request, "limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise HttpError(400, f"limit={limit} is out of range: use 1 to {MAX_LIMIT}",
                        parameter="limit")
    return limit, request.query.get("cursor") or None


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise HttpError(400, f"{name}={value!r} is not one of {', '.join(allowed)}",
                        parameter=name)
    return value


async def _json_body(request: web.Request) -> Any:
    try:
        return msgspec.json.decode(await request.read())
    except msgspec.DecodeError as exc:
        raise HttpError(400, f"the body of {request.method} {request.path} is not JSON: {exc}; "
                        "send the JSON value with Content-Type: application/json") from None


def _dead_letter(letter: DeadLetter) -> dict[str, Any]:
    topic = letter.event.topic
    step = letter.queue[len(topic) + 1:] if letter.queue.startswith(topic + ".") else letter.queue
    return {"id": letter.id, "queue": letter.queue, "step": step, "topic": topic,
            "data": letter.event.data, "attempts": letter.attempts,
            "error": {"message": letter.error.message, "name": letter.error.name,
                      "stack": letter.error.stack},
            "failedMs": letter.failed_at_ms, "traceId": letter.event.trace_id}


class _Api:
    """The handlers, over one source and one live hub."""

    def __init__(self, source: WorkbenchSource, hub: LiveHub) -> None:
        self.source = source
        self.hub = hub

    @staticmethod
    def ok(payload: Any) -> web.Response:
        return json_response(200, payload)

    def cron_step(self, name: str) -> Step:
        for step in self.source.steps():
            if step.name == name and isinstance(step.config, CronConfig):
                return step
        raise HttpError(404, f"no cron step named {name!r}; GET {API_PREFIX}/cron lists them")

    # --- reads -----------------------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.Response:
        source = self.source
        return self.ok({"project": source.project_root.name, "version": __version__,
                        "mode": source.mode, "startedMs": source.started_ms,
                        "languages": list(source.pools)})

    async def flows(self, request: web.Request) -> web.Response:
        source = self.source
        return self.ok(flow_graph(source.steps(), source.project_root, source.step_errors()))

    async def endpoint_list(self, request: web.Request) -> web.Response:
        return self.ok({"items": endpoints(self.source.steps(), self.source.project_root)})

    async def traces(self, request: web.Request) -> web.Response:
        limit, cursor = _page(request)
        query = TraceQuery(status=_choice(request, "status", _STATUSES),  # type: ignore[arg-type]
                           step=request.query.get("step") or None,
                           text=request.query.get("q") or None,
                           since_ms=_int(request, "since"), until_ms=_int(request, "until"))
        try:
            return self.ok(await self.source.recorder.traces(query, limit, cursor))
        except InvalidCursor as exc:
            raise HttpError(400, str(exc), parameter="cursor") from None

    async def trace(self, request: web.Request) -> web.Response:
        trace_id = request.match_info["trace_id"]
        found = await self.source.recorder.get_trace(trace_id)
        if found is None:
            raise HttpError(404, f"no trace {trace_id!r} (it may be older than the retention)")
        return self.ok({"trace": found[0], "spans": found[1]})

    async def logs(self, request: web.Request) -> web.Response:
        limit, cursor = _page(request)
        query = LogQuery(trace_id=request.query.get("traceId") or None,
                         step=request.query.get("step") or None,
                         level=_choice(request, "level", tuple(LEVEL_RANK)),
                         text=request.query.get("q") or None, since_ms=_int(request, "since"))
        try:
            return self.ok(await self.source.recorder.logs(query, limit, cursor))
        except InvalidCursor as exc:
            raise HttpError(400, str(exc), parameter="cursor") from None

    async def state_groups(self, request: web.Request) -> web.Response:
        state = self.source.state
        return self.ok({"items": [{"group": group, "count": len(await state.keys(group))}
                                  for group in await state.groups()]})

    async def state_group(self, request: web.Request) -> web.Response:
        items = await self.source.state.items(request.match_info["group"])
        return self.ok({"items": [{"key": item.key, "value": item.value} for item in items]})

    async def streams(self, request: web.Request) -> web.Response:
        groups = await self.source.stream_store.groups()
        names = dict.fromkeys([*self.source.stream_names(), *(name for name, _, _ in groups)])
        return self.ok({"items": [{"name": name, "groups": [
            {"groupId": group, "count": count} for n, group, count in groups if n == name]}
            for name in names]})

    async def stream_group(self, request: web.Request) -> web.Response:
        items = await self.source.stream_store.items(request.match_info["name"],
                                                     request.match_info["group"])
        return self.ok({"items": [{"id": item_id, "data": data} for item_id, data in items]})

    async def all_dead_letters(self) -> list[DeadLetter]:
        queue = self.source.queue
        letters = [letter for name in await queue.dead_letter_queues()
                   for letter in await queue.dead_letters(name)]
        return sorted(letters, key=lambda d: (d.failed_at_ms, d.id), reverse=True)

    async def dead_letters(self, request: web.Request) -> web.Response:
        limit, cursor = _page(request)
        letters = await self.all_dead_letters()
        start = 0
        if cursor is not None:
            start = next((i + 1 for i, d in enumerate(letters) if d.id == cursor), -1)
            if start < 0:
                raise HttpError(400, f"cursor {cursor!r} is not a dead letter any more (replayed"
                                " or purged); start again without a cursor", parameter="cursor")
        page = letters[start:start + limit]
        more = start + limit < len(letters)
        return self.ok({"items": [_dead_letter(d) for d in page],
                        "nextCursor": page[-1].id if more and page else None})

    async def find_letter(self, letter_id: str) -> DeadLetter:
        for letter in await self.all_dead_letters():
            if letter.id == letter_id:
                return letter
        raise HttpError(404, f"no dead letter {letter_id!r} (replayed or purged already?)")

    async def dead_letter(self, request: web.Request) -> web.Response:
        return self.ok(_dead_letter(await self.find_letter(request.match_info["id"])))

    async def runners(self, request: web.Request) -> web.Response:
        return self.ok({"items": [
            {"language": language, "index": index, "name": process.name, "pid": process.pid,
             "state": process.state.name, "inFlight": process.in_flight,
             "restarts": process.restarts, "steps": len(process.loaded)}
            for language, pool in self.source.pools.items()
            for index, process in enumerate(pool.processes)]})

    async def cron(self, request: web.Request) -> web.Response:
        now = datetime.now(timezone.utc)
        items = []
        for step in self.source.steps():
            if not isinstance(step.config, CronConfig):
                continue
            fire = parse_cron(step.config.cron).get_next_fire_time(None, now)
            last = await self.source.recorder.traces(TraceQuery(step=step.name), 1)
            items.append({"stepId": step_id(step, self.source.project_root), "name": step.name,
                          "cron": step.config.cron,
                          "nextRunMs": int(fire.timestamp() * 1000) if fire else None,
                          "lastRunMs": last.items[0].start_ms if last.items else None})
        return self.ok({"items": items})

    # --- writes (operator actions) ---------------------------------------------------------------

    async def state_set(self, request: web.Request) -> web.Response:
        group, key = request.match_info["group"], request.match_info["key"]
        try:
            value = await self.source.state.set(group, key, await _json_body(request))
        except (InvalidStateValue, ValueError) as exc:  # a name or value that cannot be stored
            raise HttpError(400, str(exc)) from None
        self.hub.state_changed("set", group, key)
        return self.ok({"group": group, "key": key, "value": value})

    async def state_delete(self, request: web.Request) -> web.Response:
        group, key = request.match_info["group"], request.match_info["key"]
        existed = key in await self.source.state.keys(group)
        await self.source.state.delete(group, key)
        if existed:
            self.hub.state_changed("delete", group, key)
        return self.ok({"deleted": existed})

    async def replay(self, request: web.Request) -> web.Response:
        letter = await self.find_letter(request.match_info["id"])
        if not await self.source.queue.replay_dead_letter(letter.queue, letter.id):
            raise HttpError(409, f"dead letter {letter.id!r} was replayed or purged meanwhile")
        self.hub.dlq_changed("replayed")
        return self.ok({"replayed": 1})

    async def purge(self, request: web.Request) -> web.Response:
        body = await _json_body(request) if await request.read() else {}
        queue_name = body.get("queue") if isinstance(body, dict) else None
        if (not isinstance(body, dict) or "ids" in body
                or not isinstance(queue_name, (str, type(None)))):
            raise HttpError(400, 'purge takes no body, or {"queue": "<topic>.<step>"}; '
                            "single dead letters cannot be purged yet")
        names = [queue_name] if queue_name else await self.source.queue.dead_letter_queues()
        purged = sum([await self.source.queue.purge_dead_letters(name) for name in names])
        self.hub.dlq_changed("purged")
        return self.ok({"purged": purged})

    async def run_cron(self, request: web.Request) -> web.Response:
        step = self.cron_step(request.match_info["name"])
        trace_id = new_trace_id()
        self.source.run_cron(step, trace_id)
        return self.ok({"traceId": trace_id})



async def _workbench_off(request: web.Request) -> web.Response:
    raise HttpError(404, "the Workbench is off", message=(
        f"{request.path} is served when the Workbench is on: `motia dev`, or `motia start "
        "--workbench` ([workbench] enabled = true in motia.toml, MOTIA_WORKBENCH=1)"))


def workbench_routes(source: WorkbenchSource, hub: LiveHub, *,
                     writes_only: bool = False) -> list[web.RouteDef]:
    """The API's routes. ``writes_only``: only its writes (the Workbench is off, but an operator
    with the token may still act), so its reads answer 404."""
    api = _Api(source, hub)
    p = API_PREFIX
    writes = [
        web.put(p + "/state/{group}/{key}", api.state_set),
        web.delete(p + "/state/{group}/{key}", api.state_delete),
        web.post(p + "/dlq/purge", api.purge),
        web.post(p + "/dlq/{id}/replay", api.replay),
        web.post(p + "/cron/{name}/run", api.run_cron),
    ]
    if writes_only:
        return [*writes, web.get(p + "/{tail:.*}", _workbench_off)]
    return [
        web.get(p + "/info", api.info), web.get(p + "/flows", api.flows),
        web.get(p + "/endpoints", api.endpoint_list), web.get(p + "/traces", api.traces),
        web.get(p + "/traces/{trace_id}", api.trace), web.get(p + "/logs", api.logs),
        web.get(p + "/state", api.state_groups), web.get(p + "/state/{group}", api.state_group),
        web.get(p + "/streams", api.streams),
        web.get(p + "/streams/{name}/{group}", api.stream_group),
        web.get(p + "/dlq", api.dead_letters), web.get(p + "/dlq/{id}", api.dead_letter),
        web.get(p + "/runners", api.runners), web.get(p + "/cron", api.cron),
        web.get(p + "/live", hub.handle), *writes,
    ]
