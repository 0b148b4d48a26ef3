"""The Node runner alone, hop by hop: its runner at a git ref against the working tree's.

``python bench/node_hops.py --base main``: both runners are spawned over real pipes and driven
by this process with blocking reads (no event loop of ours in the figures), one call to each in
turn, with the pipeline's two TypeScript steps (``pipe_start``: an api step that emits;
``pipe_record``: an event step with state.set then emit) and the no-op step. Every callback is
answered at once with null. Per step and runner: the median time from writing ``step.invoke`` to
the first line back (the handler's first ctx call, or the answer), to the answer, and the
runner's CPU time per invocation (/proc, all threads). ``--gap-us`` sleeps before each call, so
the runner is woken from idle as in the pipeline at 1 in flight. Bounded in calls; Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from worktree import REPO, checkout

BENCH = Path(__file__).resolve().parent
SCRATCH = BENCH / ".scratch" / "node-hops"
PROJECT = BENCH / "compare" / "project"
STEPS = {"start": PROJECT / "steps" / "pipe_start.step.ts",
         "record": PROJECT / "steps" / "pipe_record.step.ts",
         "noop": BENCH / "compare" / "limits" / "steps" / "noop.step.ts"}
TRACE = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
         "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


class Runner:
    """One Node runner over pipes, initialized with the three steps loaded."""

    def __init__(self, label: str, tree: Path) -> None:
        self.label = label
        self.proc = subprocess.Popen(["node", str(tree / "runners" / "node" / "runner.mjs")],
                                     cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.fd_in, self.fd_out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self.buffer = b""
        self.first: dict[str, list[float]] = {kind: [] for kind in STEPS}
        self.total: dict[str, list[float]] = {kind: [] for kind in STEPS}
        self.cpu: dict[str, float] = dict.fromkeys(STEPS, 0.0)
        self._call("initialize", {"protocolVersion": 1, "projectRoot": str(PROJECT)})
        loaded = self._call("steps.load", {"files": [str(f) for f in STEPS.values()]})
        errors = [f for f in loaded["files"] if "error" in f]
        if errors:
            raise RuntimeError(f"{label}: {errors}")

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self.fd_in, (json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd_out, 65536)
            if not chunk:
                raise RuntimeError(f"{self.label}: the runner closed its output")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        self._send({"id": method, "method": method, "params": params})
        answer = self._read()
        return answer["result"]

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def invoke(self, kind: str, n: int, keep: bool) -> None:
        body = {"id": f"item-{n}", "sink": "/dev/null"}
        api = kind == "start"
        params = {"invocationId": f"{self.label}-{n}", "file": str(STEPS[kind]),
                  "trigger": "api" if api else "event",
                  "input": {"body": body, "headers": {}, "pathParams": {}, "queryParams": {},
                            "rawBody": json.dumps(body)} if api else body,
                  "trace": TRACE, "flows": ["compare"], "timeoutMs": 30000}
        began = time.perf_counter_ns()
        cpu = self.cpu_s()
        self._send({"id": n, "method": "step.invoke", "params": params})
        first = None
        while True:
            message = self._read()
            first = first or time.perf_counter_ns()
            if "method" not in message:
                break
            self._send({"id": message["id"], "result": None})
        if "error" in message:
            raise RuntimeError(f"{self.label} {kind}: {message['error']}")
        if keep:
            ended = time.perf_counter_ns()
            self.first[kind].append((first - began) / 1000)
            self.total[kind].append((ended - began) / 1000)
            self.cpu[kind] += self.cpu_s() - cpu

    def close(self) -> None:
        self._send({"method": "exit"})
        self.proc.wait(10)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git ref of the Node runner to compare")
    parser.add_argument("--calls", type=int, default=3000, help="calls per step and runner")
    parser.add_argument("--gap-us", type=float, default=0, help="pause before each call")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    commit = checkout(args.base, SCRATCH)
    modules = SCRATCH / "runners" / "node" / "node_modules"
    if not modules.exists():
        modules.symlink_to(REPO / "runners" / "node" / "node_modules", target_is_directory=True)
    runners = [Runner(f"base {commit}", SCRATCH), Runner("working tree", REPO)]
    warm = args.calls // 5
    try:
        for n in range(args.calls + warm):
            for kind in STEPS:
                for runner in runners if n % 2 else runners[::-1]:
                    if args.gap_us:
                        time.sleep(args.gap_us / 1e6)
                    runner.invoke(kind, n, n >= warm)
    finally:
        for runner in runners:
            runner.close()
    print(f"{'step':8} {'runner':16} {'first line us':>14} {'answer us':>10} {'CPU us/call':>12}")
    for kind in STEPS:
        for runner in runners:
            print(f"{kind:8} {runner.label:16} {statistics.median(runner.first[kind]):14.1f} "
                  f"{statistics.median(runner.total[kind]):10.1f} "
                  f"{runner.cpu[kind] / args.calls * 1e6:12.1f}")


if __name__ == "__main__":
    main()
