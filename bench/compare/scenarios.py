"""The scenarios, each run the same way against every contender's server.

- HTTP GET through the TS and the Python api step at 1 and 32 connections;
- the event pipeline (POST -> TS api -> TS event with state.set -> Python event) at 1 and 32
  items in flight, end to end, with the peak RSS of each server's process tree meanwhile;
- cold start: launch to the first 200 of both api steps (so both runners are up).

The contenders' servers run side by side (an idle server costs nothing) and their runs are
interleaved: run 1 of each, then run 2 of each, ... so a noisy moment on a small shared machine
falls on all of them alike instead of on whichever happened to be measured then. Each scenario
has a warm-up, then ``Plan.runs`` repetitions; a contender that runs a process per invocation
gets the small counts of ``Plan.small`` so the whole comparison takes minutes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anyio

from . import load, wrk
from .contenders import BARE, Contender
from .figures import Figure, Scalar
from .procs import MemorySampler, Server, free_port

__all__ = ("COLD", "CONCURRENCY", "GET_BARE", "GET_PY", "GET_TS", "MEMORY", "PIPELINE",
           "WRK_BARE", "WRK_PY", "WRK_TS", "Entry", "Plan", "cold_start", "http_get", "pipeline",
           "wrk_get")

GET_TS = "HTTP GET, TS api step"
GET_PY = "HTTP GET, Python api step"
GET_BARE = "HTTP GET, bare handler"
PIPELINE = "pipeline POST>TS>TS(state)>Py"
WRK_TS = "wrk GET, TS api step"
WRK_PY = "wrk GET, Python api step"
WRK_BARE = "wrk GET, bare handler"
COLD = "cold start to first 200"
MEMORY = "peak RSS, pipeline scenario"
CONCURRENCY = (1, 32)
READY_TIMEOUT_S = 60.0
PIPE_WARMUP_IN_FLIGHT = 4


@dataclass(frozen=True)
class Plan:
    """Counts and caps for one class of contender (per-run counts keyed by concurrency)."""

    runs: int
    get_warmup: int
    get_count: dict[int, int]
    pipe_warmup: int
    pipe_count: dict[int, int]
    cap_s: float  # a run stops here even if not every request completed
    item_cap_s: float  # one pipeline item is written off after this
    slow: bool = False  # a process per invocation: measured after the fast ones, not between

    @classmethod
    def full(cls, runs: int, requests: int, events: int) -> Plan:
        return cls(runs, 300, {1: requests, 32: requests}, 100, {1: events // 4, 32: events},
                   60.0, 10.0)

    @classmethod
    def small(cls, runs: int, requests: int, events: int) -> Plan:
        return cls(runs, 4, {1: max(requests // 3, 1), 32: requests}, 2,
                   {1: max(events // 4, 1), 32: events}, 240.0, 60.0, slow=True)


@dataclass(frozen=True)
class Entry:
    """A contender with the plan it is measured by."""

    contender: Contender
    plan: Plan

    @property
    def tag(self) -> str:
        return self.contender.slug


def _routes(contender: Contender) -> list[tuple[str, str]]:
    if contender.name == BARE:
        return [(GET_BARE, "/py/hello")]
    return [(GET_TS, "/ts/hello"), (GET_PY, "/py/hello")]


def _ready_paths(contender: Contender, suffix: str) -> list[str]:
    if contender.ready_paths:
        return list(contender.ready_paths)
    if contender.python_unavailable is not None:
        return [f"/ts/hello/{suffix}"]
    return [f"{path}/{suffix}" for _, path in _routes(contender)]


@asynccontextmanager
async def _servers(entries: Sequence[Entry], logs: Path, label: str,
                   failed: dict[str, str]) -> AsyncIterator[dict[str, Server]]:
    """Start every available contender's server; those that do not start land in ``failed``."""
    servers: dict[str, Server] = {}
    try:
        for entry in entries:
            contender = entry.contender
            if contender.unavailable is not None:
                failed[contender.name] = contender.unavailable
                continue
            contender.reset()
            server = contender.server(free_port(), logs / f"{entry.tag}-{label}.log")
            server.launch()
            servers[contender.name] = server
            try:
                await server.wait_ready(_ready_paths(contender, "ready"), READY_TIMEOUT_S)
                await server.wait_processes(contender.processes, READY_TIMEOUT_S)
            except RuntimeError as exc:
                failed[contender.name] = str(exc)
                await servers.pop(contender.name).stop()
        yield servers
    finally:
        with anyio.CancelScope(shield=True):
            for server in servers.values():
                await server.stop()
            for entry in entries:  # no Redis keys of this run left behind
                if entry.contender.name in servers:
                    await anyio.to_thread.run_sync(entry.contender.release)


def _mark(figures: Sequence[Figure], failed: dict[str, str]) -> None:
    for figure in figures:
        if figure.contender in failed:
            figure.unavailable = failed[figure.contender]


async def http_get(entries: Sequence[Entry], logs: Path) -> list[Figure]:
    """Both api steps (or the bare handler) at each concurrency: warm-up, then runs."""
    plans = {e.contender.name: e.plan for e in entries}
    figures = [Figure(scenario, e.contender.name, c, e.plan.get_count[c])
               for e in entries for scenario, _ in _routes(e.contender) for c in CONCURRENCY]
    failed: dict[str, str] = {}
    for e in entries:
        if e.contender.python_unavailable is not None:
            for f in figures:
                if f.contender == e.contender.name and f.scenario == GET_PY:
                    f.unavailable = e.contender.python_unavailable
    async with _servers(entries, logs, "http", failed) as servers:
        _mark(figures, failed)
        for c in CONCURRENCY:
            these = [f for f in figures if f.in_flight == c and f.unavailable is None]
            async with AsyncExitStack() as stack:
                clients: dict[str, aiohttp.ClientSession] = {}
                for name in {f.contender for f in these}:
                    clients[name] = await stack.enter_async_context(load.session(c))
                urls = {id(f): servers[f.contender].base
                        + dict(_routes_by_name(entries, f.contender))[f.scenario] for f in these}
                for f in these:
                    plan = plans[f.contender]
                    await load.get_run(clients[f.contender], urls[id(f)], plan.get_warmup, c,
                                       plan.cap_s)
                for group in _interleaved(figures, c, plans):
                    for _, f in group:
                        f.runs.append(await load.get_run(clients[f.contender], urls[id(f)],
                                                         f.per_run, c, plans[f.contender].cap_s))
    return figures


async def wrk_get(entries: Sequence[Entry], logs: Path, runs: int,
                  duration_s: float, cpu: list[Scalar] | None = None) -> list[Figure]:
    """Both api steps (or the bare handler) under ``wrk`` at 32 connections for ``duration_s``,
    ``runs`` times each, interleaved, after a one-second warm-up each. ``cpu`` gets the server
    process's own CPU time per request of each figure (its runners are other processes): a
    steadier figure than requests/s on a shared machine."""
    names = {GET_TS: WRK_TS, GET_PY: WRK_PY, GET_BARE: WRK_BARE}
    c = wrk.CONNECTIONS
    figures = [Figure(names[scenario], e.contender.name, c, 0,
                      note=f"wrk -t1 -c{c} -d{duration_s:g}s; n = requests in the run")
               for e in entries for scenario, _ in _routes(e.contender)]
    paths = {(names[scenario], e.contender.name): path
             for e in entries for scenario, path in _routes(e.contender)}
    for f in figures:
        python = next(e.contender.python_unavailable for e in entries
                      if e.contender.name == f.contender)
        if f.scenario == WRK_PY and python is not None:
            f.unavailable = python
    why = wrk.missing()
    failed: dict[str, str] = {e.contender.name: why for e in entries} if why else {}
    if why:
        _mark(figures, failed)
        return figures
    async with _servers(entries, logs, "wrk", failed) as servers:
        _mark(figures, failed)
        urls = {id(f): f"{servers[f.contender].base}{paths[(f.scenario, f.contender)]}/wrk"
                for f in figures if f.unavailable is None}
        per_request = {id(f): Scalar(f"{f.scenario}: server CPU per request", f.contender, "us")
                       for f in figures}
        for run in range(runs + 1):  # the first: the warm-up, not kept
            for f in figures:
                if f.unavailable is None:
                    process = servers[f.contender].process
                    began = _cpu_s(process.pid if process is not None else None)
                    await _wrk_run(f, urls[id(f)], duration_s if run else 1, keep=run > 0)
                    used = _cpu_s(process.pid if process is not None else None) - began
                    if run > 0 and f.runs and f.runs[-1].ok:
                        per_request[id(f)].values.append(used / f.runs[-1].ok * 1e6)
        if cpu is not None:
            cpu.extend(s for s in per_request.values() if s.values)
    return figures


def _cpu_s(pid: int | None) -> float:
    """A process's own user + system CPU seconds (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wrk_run(figure: Figure, url: str, duration_s: float, *, keep: bool) -> None:
    """One wrk run into ``figure`` (kept or not); a failure makes the figure unavailable."""
    try:
        measured = await wrk.run(url, duration_s)
    except (RuntimeError, ValueError, TimeoutError) as exc:
        figure.unavailable = str(exc)
        return
    if keep:
        figure.runs.append(measured)
        figure.per_run = round(sum(r.asked for r in figure.runs) / len(figure.runs))


def _routes_by_name(entries: Sequence[Entry], name: str) -> list[tuple[str, str]]:
    return next(_routes(e.contender) for e in entries if e.contender.name == name)


async def pipeline(entries: Sequence[Entry], logs: Path,
                   sinks: Path) -> tuple[list[Figure], list[Scalar]]:
    """Items through the pipeline at each concurrency; each tree's RSS sampled all along."""
    plans = {e.contender.name: e.plan for e in entries}
    figures = [Figure(PIPELINE, e.contender.name, c, e.plan.pipe_count[c])
               for e in entries for c in CONCURRENCY]
    memory = {e.contender.name: Scalar(MEMORY, e.contender.name, "MiB") for e in entries}
    failed = {e.contender.name: e.contender.python_unavailable for e in entries
              if e.contender.python_unavailable is not None}
    live = [e for e in entries if e.contender.name not in failed]
    async with _servers(live, logs, "pipeline", failed) as servers:
        _mark(figures, failed)
        slugs = {e.contender.name: e.tag for e in entries}
        sink = {name: load.Sink(sinks / f"{slugs[name]}.fifo") for name in servers}
        roots = {name: _pid(server) for name, server in servers.items()}
        with MemorySampler(roots) as sampler:
            async with anyio.create_task_group() as tg:
                for name in servers:
                    await tg.start(sink[name].pump)
                for name, server in servers.items():
                    async with load.session(PIPE_WARMUP_IN_FLIGHT) as client:
                        await load.pipeline_run(client, server.base, sink[name], "warm",
                                                plans[name].pipe_warmup, PIPE_WARMUP_IN_FLIGHT,
                                                plans[name].cap_s, plans[name].item_cap_s)
                for c in CONCURRENCY:
                    for group in _interleaved(figures, c, plans):
                        for run, f in group:
                            plan = plans[f.contender]
                            async with load.session(c) as client:
                                f.runs.append(await load.pipeline_run(
                                    client, servers[f.contender].base, sink[f.contender],
                                    f"c{c}r{run}", f.per_run, c, plan.cap_s, plan.item_cap_s))
                tg.cancel_scope.cancel()
    for name, scalar in memory.items():
        if name in failed:
            scalar.unavailable = failed[name]
        elif name in sampler.peaks:
            peak = sampler.peaks[name]
            scalar.values = [peak.bytes / 2**20]
            scalar.note = (f"max of {peak.samples} samples (every {sampler.interval_s * 1e3:.0f}"
                           f" ms), up to {peak.processes} processes")
    return figures, list(memory.values())


def _interleaved(figures: Sequence[Figure], c: int, plans: dict[str, Plan],
                 ) -> list[list[tuple[int, Figure]]]:
    """The runs at ``c`` in flight, in order: the fast contenders' runs interleaved (run 1 of
    each, run 2 of each, ...), then the slow contenders' (a process per invocation), so what an
    overloaded original leaves behind never lands inside a fast contender's run."""
    these = [f for f in figures if f.in_flight == c and f.unavailable is None]
    groups = []
    for slow in (False, True):
        group = [f for f in these if plans[f.contender].slow is slow]
        rounds = max((plans[f.contender].runs for f in group), default=0)
        groups.append([(run, f) for run in range(rounds) for f in group
                       if run < plans[f.contender].runs])
    return groups


def _pid(server: Server) -> int:
    assert server.process is not None, "a started server has a process"
    return server.process.pid


async def cold_start(entries: Sequence[Entry], runs: int, logs: Path) -> list[Scalar]:
    """Seconds from launch to the first 200 of every api step, ``runs`` times each."""
    figures = {e.contender.name: Scalar(COLD, e.contender.name, "s") for e in entries}
    for e in entries:
        if e.contender.unavailable is not None:
            figures[e.contender.name].unavailable = e.contender.unavailable
    for _ in range(runs):
        for e in entries:
            figure = figures[e.contender.name]
            if figure.unavailable is not None:
                continue
            e.contender.reset()
            server = e.contender.server(free_port(), logs / f"{e.tag}-cold.log")
            server.launch()
            try:
                firsts = await server.wait_ready(_ready_paths(e.contender, "cold"),
                                                 READY_TIMEOUT_S)
            except RuntimeError as exc:
                figure.unavailable = str(exc)
                continue
            finally:
                await server.stop()
            figure.values.append(max(firsts.values()))
            if not figure.note:
                figure.note = "first run: " + ", ".join(
                    f"{p.split('/')[1]} {s:.2f} s" for p, s in firsts.items())
                if e.contender.python_unavailable is not None:
                    figure.note += f" (TS step only: {e.contender.python_unavailable})"
    return list(figures.values())
