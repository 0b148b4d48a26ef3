"""The bare limit: one aiohttp process doing the scenarios' work in its handlers, no framework.

``python bare_server.py PORT`` serves the same routes as the scenario project: GET
``/ts/hello/{name}`` and ``/py/hello/{name}`` answer ``{"hello": name}``; POST ``/pipeline``
does the whole pipeline in-process (a dict stands for the state store, then the line the last
step writes goes to the sink) before it answers. Nothing can do the same work over HTTP for
less on this machine, so it is the floor the frameworks are read against. Bound to 127.0.0.1.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from aiohttp import web

__all__ = ("make_app",)

STATE: web.AppKey[dict[str, Any]] = web.AppKey("state", dict)


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"hello": request.match_info["name"]})


async def pipeline(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE][f"compare-pipeline:{body['id']}"] = {"id": body["id"], "recorded": True}
    with open(body["sink"], "a") as sink:
        sink.write(f"{body['id']} {time.time():.6f}\n")
    return web.json_response({"accepted": body["id"]})


def make_app() -> web.Application:
    app = web.Application()
    app[STATE] = {}
    app.router.add_get("/ts/hello/{name}", hello)
    app.router.add_get("/py/hello/{name}", hello)
    app.router.add_post("/pipeline", pipeline)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
                print=None)
