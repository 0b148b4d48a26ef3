"""Server CPU per request of the HTTP layer alone under wrk (no runner): a git ref vs the tree.

    .venv/bin/python bench/http_ab.py --base HEAD~1 [--runs 7] [--seconds 4]

The api GET of the #20 target spends its core CPU in three places: aiohttp and ``http/``, the
invocation (span, ``step.invoke`` to a runner and back) and the runner. This isolates the first:
``http.create_app`` with a handler that answers at once (the ``invoke_api`` a test app would
have), served as the app serves it (``http.app_runner``, where the side has one) on 127.0.0.1
by a fresh process with one side's ``motia_core`` first on ``PYTHONPATH``, and ``wrk -t1
-c32`` against ``GET /hello/:name``; the figure is the server process's own CPU time per
request. The sides alternate run by run; each figure is the median.
Needs Debian's ``wrk`` (scripts/bench-deps.sh). Bounded: ``--runs`` x 2 wrk runs of
``--seconds``, every server under a timeout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import anyio
from compare import wrk
from worktree import alternate, report

BENCH = Path(__file__).resolve().parent
BASE_TREE = BENCH / ".scratch" / "http-ab-base"
SERVER_BOUND_S = 120

_SERVER = """
import asyncio, sys
from aiohttp import web
from motia_core import http
from motia_core.http import ApiOutcome, Route, create_app

class Handler:
    async def invoke_api(self, route, request, trace):
        return ApiOutcome(trace_id="K7M2Q-5123456", traceparent=None, response={
            "status": 200, "body": {"message": "hello " + request["pathParams"]["name"]}})
    async def emit(self, topic, data, trace):
        raise NotImplementedError
    def health(self):
        return {"status": "ok"}

async def main():
    app = create_app([Route("GET", "/hello/:name", None)], Handler())
    if hasattr(http, "app_runner"):  # served as the app serves it, where the side has one
        runner = await http.app_runner(app, access_log=None)
    else:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(BOUND)

asyncio.run(main())
"""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(source: Path, seconds: float) -> float:
    server = subprocess.Popen([sys.executable, "-c", _SERVER.replace("BOUND", str(SERVER_BOUND_S))],
                              env={"PYTHONPATH": str(source)}, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, cwd=source)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/hello/wrk"
        anyio.run(wrk.run, url, 1.0)  # warm-up
        began = _cpu_s(server.pid)
        measured = anyio.run(wrk.run, url, seconds)
        return (_cpu_s(server.pid) - began) / max(measured.ok, 1) * 1e6
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    missing = wrk.missing()
    if missing:
        raise SystemExit(missing)
    results = alternate(args.base, BASE_TREE, args.runs,
                        lambda source: _run(source, args.seconds))
    report(f"HTTP layer alone (answering handler), wrk -c{wrk.CONNECTIONS} for "
           f"{args.seconds:g}s, median of {args.runs}:", "server CPU", "request", results)

if __name__ == "__main__":
    main()
