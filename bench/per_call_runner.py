"""What a process-per-invocation runner does, as little of it as possible (stdlib only).

Started once per call with the invocation as a JSON argument, as the original Motia starts its
Python runner: import the step file, run its handler with a stand-in ctx, print the result as
one JSON line on stdout, exit. No RPC back to the parent, so this is the cheapest such runner can
be; the comparison flatters the per-call design.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys


class _Ctx:
    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id


def main() -> None:
    invocation = json.loads(sys.argv[1])
    spec = importlib.util.spec_from_file_location("bench_step", invocation["file"])
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {invocation['file']}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = asyncio.run(module.handler(invocation.get("input"), _Ctx(invocation["traceId"])))
    sys.stdout.write(json.dumps({"output": output}) + "\n")


main()
