"""The observability backends' contract, one suite over memory, SQLite and Redis, and the
recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import motia_core.observability.store.sqlite as sqlite_store
from motia_core.observability import LogEntry, Recorder, Retention, TraceQuery, now_ms
from motia_core.observability.store import (
    InvalidCursor,
    LogQuery,
    MemoryBackend,
    ObservabilityBackend,
    SqliteBackend,
)
from motia_core.observability.store.redis import RedisBackend
from motia_core.observability.traces import (
    LogTraceEvent,
    MemoryTraceStore,
    Span,
    SpanError,
    StateTraceEvent,
    Trace,
)

pytestmark = pytest.mark.anyio

HOUR_MS = 3_600_000


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest,
                  tmp_path: Path) -> AsyncIterator[ObservabilityBackend]:
    store: ObservabilityBackend
    if request.param == "redis":
        store = RedisBackend(request.getfixturevalue("redis_url"),
                             prefix=request.getfixturevalue("redis_prefix"))
    else:
        store = (MemoryBackend() if request.param == "memory"
                 else SqliteBackend(tmp_path / "obs.sqlite3"))
    try:
        yield store
    finally:
        await store.aclose()


def trace(trace_id: str, start_ms: int, name: str | None = None) -> Trace:
    return Trace(id=trace_id, name=name or f"POST /{trace_id}", start_ms=start_ms)


def span(trace_id: str, span_id: str, name: str, start_ms: int, *, status: str = "completed",
         language: str = "python", error: str | None = None) -> Span:
    return Span(id=span_id, trace_id=trace_id, name=name, kind="event", start_ms=start_ms,
                end_ms=None if status == "running" else start_ms + 5, status=status,  # type: ignore[arg-type]
                language=language, runner=f"{language}#0",
                error=SpanError(message=error) if error else None,
                events=[StateTraceEvent(operation="set", group="g", key="k",
                                        timestamp=start_ms)])


def entry(entry_id: int, time_ms: int, level: str = "info", message: str = "hello",
          trace_id: str | None = None, step: str | None = None) -> LogEntry:
    return LogEntry(id=entry_id, time=time_ms, level=level, message=message, trace_id=trace_id,
                    step=step, fields={"n": entry_id})


async def test_a_trace_is_summarised_from_all_its_spans(backend: ObservabilityBackend) -> None:
    await backend.write([trace("T1", 100)], [span("T1", "a", "Create", 100, language="node")],
                        [])
    found = await backend.get_trace("T1")
    assert found is not None and found[0].status == "completed" and found[0].end_ms == 105
    # A later batch, as after the trace left the recorder's memory: only the new span comes.
    await backend.write([trace("T1", 150, name="other name")],
                        [span("T1", "b", "Triage", 150, status="running")], [])
    found = await backend.get_trace("T1")
    assert found is not None
    summary, spans = found
    assert (summary.name, summary.start_ms, summary.span_count) == ("POST /T1", 100, 2)
    assert summary.status == "running" and summary.end_ms is None
    assert summary.steps == ["Create", "Triage"] and summary.languages == ["node", "python"]
    assert [s.id for s in spans] == ["a", "b"]
    assert spans[0].runner == "node#0" and isinstance(spans[0].events[0], StateTraceEvent)
    await backend.write([], [span("T1", "b", "Triage", 150, error="boom", status="failed")], [])
    found = await backend.get_trace("T1")
    assert found is not None
    assert found[0].status == "failed" and found[0].error_message == "boom"
    assert found[0].end_ms == 155
    assert await backend.get_trace("nope") is None


async def test_trace_filters(backend: ObservabilityBackend) -> None:
    await backend.write(
        [trace("T1", 100), trace("T2", 200), trace("T3", 300, name="GET /pets")],
        [span("T1", "a", "Create", 100), span("T2", "b", "Charge", 200, error="card declined",
                                             status="failed"),
         span("T3", "c", "ListPets", 300, status="running")], [])

    async def ids(query: TraceQuery) -> list[str]:
        return [t.id for t in (await backend.traces(query, 50)).items]

    assert await ids(TraceQuery()) == ["T3", "T2", "T1"]
    assert await ids(TraceQuery(status="failed")) == ["T2"]
    assert await ids(TraceQuery(status="running")) == ["T3"]
    assert await ids(TraceQuery(step="Create")) == ["T1"]
    assert await ids(TraceQuery(text="DECLINED")) == ["T2"]
    assert await ids(TraceQuery(text="pets")) == ["T3"]
    assert await ids(TraceQuery(since_ms=150, until_ms=250)) == ["T2"]


async def test_traces_page_newest_first(backend: ObservabilityBackend) -> None:
    traces = [trace(f"T{n:02d}", 1000 + n // 2) for n in range(25)]  # pairs share a start
    await backend.write(traces, [], [])
    seen: list[str] = []
    cursor = None
    for _ in range(10):  # bounded: 25 traces in pages of 10
        page = await backend.traces(TraceQuery(), 10, cursor)
        seen += [t.id for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [t.id for t in sorted(traces, key=lambda t: (t.start_ms, t.id), reverse=True)]
    assert seen == expected
    with pytest.raises(InvalidCursor):
        await backend.traces(TraceQuery(), 10, "not-a-cursor")


async def test_log_filters_and_pages(backend: ObservabilityBackend) -> None:
    logs = [entry(1, 100, "debug", "starting"), entry(2, 110, "info", "ticket created", "T1",
                                                       "Create"),
            entry(3, 120, "warn", "slow triage", "T1", "Triage"),
            entry(4, 130, "error", "Card declined", "T2", "Charge")]
    await backend.write([], [], logs)

    async def ids(query: LogQuery, limit: int = 50) -> list[int]:
        return [e.id for e in (await backend.logs(query, limit)).items]

    assert await ids(LogQuery()) == [4, 3, 2, 1]
    assert await ids(LogQuery(trace_id="T1")) == [3, 2]
    assert await ids(LogQuery(step="Charge")) == [4]
    assert await ids(LogQuery(level="warn")) == [4, 3]
    assert await ids(LogQuery(text="card")) == [4]
    assert await ids(LogQuery(since_ms=115)) == [4, 3]
    first = await backend.logs(LogQuery(), 3)
    assert [e.id for e in first.items] == [4, 3, 2] and first.next_cursor is not None
    rest = await backend.logs(LogQuery(), 3, first.next_cursor)
    assert [e.id for e in rest.items] == [1] and rest.next_cursor is None
    assert rest.items[0].fields == {"n": 1}


async def test_retention_by_count(backend: ObservabilityBackend) -> None:
    await backend.write([trace(f"T{n}", 1000 + n) for n in range(5)],
                        [span("T0", "s0", "Old", 1000)],
                        [entry(n, 1000 + n) for n in range(1, 6)])
    await backend.prune(Retention(max_traces=2, max_logs=3, retention_hours=0), 2000)
    assert [t.id for t in (await backend.traces(TraceQuery(), 50)).items] == ["T4", "T3"]
    assert await backend.get_trace("T0") is None
    assert [e.id for e in (await backend.logs(LogQuery(), 50)).items] == [5, 4, 3]


async def test_retention_by_age(backend: ObservabilityBackend) -> None:
    now = 100 * HOUR_MS
    await backend.write([trace("old", now - 3 * HOUR_MS), trace("new", now - HOUR_MS)], [],
                        [entry(1, now - 3 * HOUR_MS), entry(2, now - HOUR_MS)])
    await backend.prune(Retention(retention_hours=2), now)
    assert [t.id for t in (await backend.traces(TraceQuery(), 50)).items] == ["new"]
    assert [e.id for e in (await backend.logs(LogQuery(), 50)).items] == [2]


async def test_sqlite_prunes_in_bounded_steps_until_within_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each step is one call on the event loop: a large excess goes in several, never in one.
    monkeypatch.setattr(sqlite_store, "PRUNE_STEP", 2)
    steps: list[tuple[int, int]] = []
    step = sqlite_store._prune

    def counted(*args: Any) -> tuple[int, int]:
        steps.append(step(*args))
        return steps[-1]

    monkeypatch.setattr(sqlite_store, "_prune", counted)
    backend = SqliteBackend(tmp_path / "obs.sqlite3")
    try:
        await backend.write([trace(f"T{n}", 1000 + n) for n in range(7)],
                            [span(f"T{n}", f"s{n}", "Step", 1000 + n) for n in range(7)],
                            [entry(n, 1000 + n) for n in range(1, 8)])
        deleted = await backend.prune(Retention(max_traces=2, max_logs=3, retention_hours=0),
                                      2000)
        assert deleted == 5 + 4 and len(steps) > 2
        assert all(t <= 2 and logs <= 2 for t, logs in steps)
        assert [t.id for t in (await backend.traces(TraceQuery(), 50)).items] == ["T6", "T5"]
        assert await backend.get_trace("T4") is None
        assert [e.id for e in (await backend.logs(LogQuery(), 50)).items] == [7, 6, 5]
    finally:
        await backend.aclose()


async def test_sqlite_keeps_everything_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "obs.sqlite3"
    first = SqliteBackend(path)
    await first.write([trace("T1", 100)], [span("T1", "a", "Create", 100)],
                      [entry(1, 100, trace_id="T1")])
    await first.aclose()
    again = SqliteBackend(path)
    try:
        found = await again.get_trace("T1")
        assert found is not None and [s.name for s in found[1]] == ["Create"]
        assert [e.trace_id for e in (await again.logs(LogQuery(), 5)).items] == ["T1"]
    finally:
        await again.aclose()


# --- the recorder ---------------------------------------------------------------------------------


async def test_the_recorder_writes_in_batches_and_reads_running_traces() -> None:
    backend = MemoryBackend()
    recorder = Recorder(backend, flush_interval_s=3600, flush_max=3)
    assert isinstance(recorder.live, MemoryTraceStore)
    async with anyio.create_task_group() as tg:
        await tg.start(recorder.run)
        recorder.start_trace("T1", "POST /x")
        first = recorder.start_span("T1", None, "Create", "api", "POST /x", language="node",
                                    runner="node#0")
        recorder.add_event(first.id, LogTraceEvent(level="info", message="hi", timestamp=1))
        # Nothing is written on the hot path: the backend sees it only after a batch.
        assert await backend.get_trace("T1") is None
        # A read flushes first, so a running trace reads as it is now.
        found = await recorder.get_trace("T1")
        assert found is not None and found[0].status == "running"
        assert found[1][0].language == "node" and len(found[1][0].events) == 1
        recorder.end_span(first.id)

        async def logs_written(count: int) -> None:
            with anyio.fail_after(5):
                while len((await backend.logs(LogQuery(), 10)).items) < count:
                    await anyio.sleep(0.01)

        for n in range(3):  # reaching flush_max wakes the writer before its interval
            recorder.on_log({"time": now_ms(), "level": "info", "msg": f"log {n}",
                             "traceId": "T1"})
        await logs_written(3)
        # That batch held the trace, changed since the one before; the next one writes it.
        stored = await backend.get_trace("T1")
        assert stored is not None and stored[0].status == "running"  # as the read wrote it
        for n in range(3, 6):
            recorder.on_log({"time": now_ms(), "level": "info", "msg": f"log {n}"})
        await logs_written(6)
        stored = await backend.get_trace("T1")
        assert stored is not None and stored[0].status == "completed"
        tg.cancel_scope.cancel()
    await recorder.aclose()
    ids = [e.id for e in (await backend.logs(LogQuery(), 10)).items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6


async def test_the_recorder_applies_retention() -> None:
    backend = MemoryBackend()
    recorder = Recorder(backend, retention=Retention(max_traces=2), flush_interval_s=0.01,
                        prune_interval_s=0.01)
    async with anyio.create_task_group() as tg:
        await tg.start(recorder.run)
        for n in range(4):
            recorder.start_trace(f"T{n}", "x")
        with anyio.fail_after(5):
            while len((await backend.traces(TraceQuery(), 10)).items) != 2:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    await recorder.aclose()


async def test_the_writer_holds_a_running_trace_until_it_ends() -> None:
    backend = MemoryBackend()
    recorder = Recorder(backend, flush_interval_s=0.01, hold_running_s=3600)
    async with anyio.create_task_group() as tg:
        await tg.start(recorder.run)
        span = recorder.start_span("T1", None, "Create", "api")
        recorder.on_log({"time": now_ms(), "level": "info", "msg": "marker"})
        with anyio.fail_after(5):  # the marker's batch is the one that held the trace
            while not (await backend.logs(LogQuery(), 1)).items:
                await anyio.sleep(0.01)
        assert await backend.get_trace("T1") is None
        recorder.end_span(span.id)
        with anyio.fail_after(5):  # ended: the next batch writes it, span and all
            while await backend.get_trace("T1") is None:
                await anyio.sleep(0.01)
        found = await backend.get_trace("T1")
        assert found is not None and found[0].status == "completed" and len(found[1]) == 1
        tg.cancel_scope.cancel()
    await recorder.aclose()


async def test_a_chain_is_written_once_after_its_last_hop() -> None:
    """Between two hops (the api step answered, its event not yet delivered) a trace has no
    running span and reads as completed: the batch then holds it, as it changed since the last
    one, and the batch after its last change writes it, once."""
    written: list[list[str]] = []

    class Counting(MemoryBackend):
        async def write(self, traces: Any, spans: Any, logs: Any) -> None:
            written.append([t.id for t in traces])
            await super().write(traces, spans, logs)

    backend = Counting()
    recorder = Recorder(backend, hold_running_s=3600)
    api = recorder.start_span("T1", None, "Create", "api")
    recorder.end_span(api.id)
    await recorder.flush(hold_running=True)  # between the hops: completed, but just changed
    event = recorder.start_span("T1", api.id, "Notify", "event")
    await recorder.flush(hold_running=True)  # running
    recorder.end_span(event.id)
    await recorder.flush(hold_running=True)  # ended in the last interval
    assert await backend.get_trace("T1") is None
    await recorder.flush(hold_running=True)  # quiet for a whole batch: written
    assert written == [["T1"]]
    found = await backend.get_trace("T1")
    assert found is not None and found[0].status == "completed" and len(found[1]) == 2
    await recorder.aclose()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_two_instances_on_one_store_write_one_trace_and_distinct_log_ids(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    # Two processes sharing the SQLite file (`motia start --processes 2`) or the Redis prefix
    # (instances) number their logs by their own clocks: the same id must not overwrite.
    def shared() -> ObservabilityBackend:
        if kind == "sqlite":
            return SqliteBackend(tmp_path / "obs.sqlite3")
        return RedisBackend(request.getfixturevalue("redis_url"),
                            prefix=request.getfixturevalue("redis_prefix"))

    a, b = shared(), shared()
    try:
        # A handled the request, B the event it emitted: each writes its own view of the trace.
        await a.write([trace("T1", 100)], [span("T1", "api", "Create", 100, language="node")],
                      [entry(5000, 100, trace_id="T1")])
        await b.write([trace("T1", 120, name="order.created")],
                      [span("T1", "evt", "Notify", 120, status="failed", error="boom")],
                      [entry(5000, 121, trace_id="T1"), entry(4000, 122, trace_id="T1")])
        for reader in (a, b):
            found = await reader.get_trace("T1")
            assert found is not None
            summary, spans = found
            assert [s.id for s in spans] == ["api", "evt"]
            assert (summary.name, summary.start_ms, summary.status) == ("POST /T1", 100, "failed")
            assert summary.steps == ["Create", "Notify"]
            ids = [e.id for e in (await reader.logs(LogQuery(trace_id="T1"), 50)).items]
            assert len(set(ids)) == 3 and ids == sorted(ids, reverse=True)
            assert ids[-1] == 5000  # the first kept its id; the others took the next free ones
    finally:
        await a.aclose()
        await b.aclose()
