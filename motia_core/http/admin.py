"""The app's own HTTP endpoints under ``/__motia`` for operators and tools: dead letters.

The same operations as ``motia dlq`` (both are :mod:`motia_core.events.dlq`), against the queue the
running server uses, so a memory queue's dead letters can be seen and replayed too.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from motia_core.events import QueueAdapter, dlq

__all__ = ("dead_letter_routes",)


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


def dead_letter_routes(queue: QueueAdapter) -> list[web.RouteDef]:
    """GET /__motia/dlq[?queue=], GET /__motia/dlq/{id}, POST /__motia/dlq/{id}/replay,
    POST /__motia/dlq/purge[?queue=]."""

    async def listing(request: web.Request) -> web.Response:
        return _json(200, await dlq.list_dead_letters(queue, request.query.get("queue")))

    async def show(request: web.Request) -> web.Response:
        try:
            return _json(200, await dlq.show(queue, None, request.match_info["id"]))
        except dlq.DeadLetterNotFound as exc:
            return _json(404, {"error": str(exc)})

    async def replay(request: web.Request) -> web.Response:
        try:
            return _json(200, await dlq.replay(queue, None, request.match_info["id"]))
        except dlq.DeadLetterNotFound as exc:
            return _json(404, {"error": str(exc)})

    async def purge(request: web.Request) -> web.Response:
        return _json(200, await dlq.purge(queue, request.query.get("queue")))

    return [
        web.get("/__motia/dlq", listing),
        web.post("/__motia/dlq/purge", purge),
        web.get("/__motia/dlq/{id}", show),
        web.post("/__motia/dlq/{id}/replay", replay),
    ]
