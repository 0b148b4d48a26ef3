"""Trace ids, the traceparent header, and the memory trace store."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable

import msgspec
import pytest

from motia_core.observability import ids
from motia_core.observability.ids import (
    TRACE_ID_ALPHABET,
    format_traceparent,
    new_span_id,
    new_trace_id,
    parse_traceparent,
    w3c_trace_id,
)
from motia_core.observability.traces import (
    MAX_LOG_MESSAGE_CHARS,
    EmitTraceEvent,
    LogTraceEvent,
    MemoryTraceStore,
    Span,
    SpanError,
    StateTraceEvent,
    StreamTraceEvent,
    TraceChange,
    TraceEvent,
)

TRACE_ID = re.compile(r"^[ABCDEFGHJKMNPQRSTUVWXYZ123456789]{5}-\d{7}$")
OUTSIDE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OUTSIDE_PARENT = "00f067aa0ba902b7"


def counting_clock(start: int = 1_000) -> Callable[[], int]:
    """A clock that moves 10 ms per reading, so every timestamp is known and distinct."""
    now = [start - 10]

    def clock() -> int:
        now[0] += 10
        return now[0]

    return clock


# --- ids -------------------------------------------------------------------------------------


def test_trace_id_has_motias_format() -> None:
    for _ in range(1_000):
        assert TRACE_ID.match(new_trace_id())
    assert new_trace_id(at_ms=1_234_567_890_123).endswith("-7890123")
    # Slicing the last 7 digits of Date.now() keeps leading zeros.
    assert new_trace_id(at_ms=1_700_000_000_042).endswith("-0000042")


def test_trace_ids_are_unique_over_10k() -> None:
    trace_ids = [new_trace_id() for _ in range(10_000)]
    # The format gives 25 random bits per millisecond, so a tight loop of 10k may (rarely, about
    # one run in ten) repeat one id; a broken random part would repeat thousands.
    assert len(set(trace_ids)) >= 9_990


def test_trace_id_random_part_uses_the_whole_alphabet_evenly() -> None:
    letters = Counter("".join(new_trace_id(at_ms=0)[:5] for _ in range(10_000)))
    assert set(letters) == set(TRACE_ID_ALPHABET)
    # 50k draws over 32 letters: about 1562 each; a biased mapping would show far off that.
    assert min(letters.values()) > 1_200
    assert max(letters.values()) < 1_950


def test_span_id_is_16_hex() -> None:
    span_ids = {new_span_id() for _ in range(1_000)}
    assert len(span_ids) == 1_000
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) and s != "0" * 16 for s in span_ids)


def test_traceparent_round_trip_keeps_a_motia_trace_id() -> None:
    trace_id, span_id = new_trace_id(), new_span_id()
    header = format_traceparent(trace_id, span_id)
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", header)
    assert bytes.fromhex(header.split("-")[1]) == b"mot" + trace_id.encode()
    assert parse_traceparent(header) == (trace_id, span_id)


def test_incoming_traceparent_continues_the_outside_trace() -> None:
    parsed = parse_traceparent(f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01")
    assert parsed is not None
    assert parsed.trace_id == OUTSIDE_TRACE
    assert parsed.parent_span_id == OUTSIDE_PARENT
    # Going out again, the outside trace id is kept as is.
    span_id = new_span_id()
    assert format_traceparent(parsed.trace_id, span_id) == f"00-{OUTSIDE_TRACE}-{span_id}-01"
    # Header values may carry surrounding whitespace; flags other than 01 are fine.
    assert parse_traceparent(f"  00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-00 ") == (
        OUTSIDE_TRACE, OUTSIDE_PARENT)


def test_a_later_version_is_parsed_for_its_first_four_fields() -> None:
    assert parse_traceparent(f"cc-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01-future") == (
        OUTSIDE_TRACE, OUTSIDE_PARENT)
    assert parse_traceparent(f"01-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01") == (
        OUTSIDE_TRACE, OUTSIDE_PARENT)


def test_other_trace_ids_map_to_a_stable_w3c_id() -> None:
    mapped = w3c_trace_id("my own id")
    assert re.fullmatch(r"[0-9a-f]{32}", mapped)
    assert mapped == w3c_trace_id("my own id") != w3c_trace_id("my own id 2")
    # "mot" followed by something that is not a Motia id is just an outside hex id.
    odd = (b"mot" + b"not-a-motia-id!").hex()[:32]
    assert parse_traceparent(f"00-{odd}-{OUTSIDE_PARENT}-01") == (odd, OUTSIDE_PARENT)


@pytest.mark.parametrize("header", [
    None,
    "",
    "garbage",
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}",  # no flags
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01-extra",  # version 00 has exactly four fields
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01-",
    f"cc-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01x",  # more data must follow a dash
    f"ff-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01",  # version ff is forbidden
    f"0-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01",
    f"0g-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-01",
    f"00-{OUTSIDE_TRACE.upper()}-{OUTSIDE_PARENT}-01",  # uppercase hex is invalid
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT.upper()}-01",
    f"00-{'0' * 32}-{OUTSIDE_PARENT}-01",  # all-zero trace id
    f"00-{OUTSIDE_TRACE}-{'0' * 16}-01",  # all-zero parent id
    f"00-{OUTSIDE_TRACE[:-1]}-{OUTSIDE_PARENT}-01",
    f"00-{OUTSIDE_TRACE}a-{OUTSIDE_PARENT}-01",
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT[:-1]}-01",
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-1",
    f"00-{OUTSIDE_TRACE}-{OUTSIDE_PARENT}-0z",
    f"00_{OUTSIDE_TRACE}_{OUTSIDE_PARENT}_01",
    f"00-{OUTSIDE_TRACE} -{OUTSIDE_PARENT}-01",
])
def test_invalid_traceparent_starts_a_new_trace(header: str | None) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize("span_id", ["", "abc", "0" * 16, OUTSIDE_PARENT.upper(), "g" * 16])
def test_format_traceparent_rejects_a_bad_span_id(span_id: str) -> None:
    with pytest.raises(ValueError, match="new_span_id"):
        format_traceparent(new_trace_id(), span_id)


def test_is_motia_trace_id() -> None:
    assert ids.is_motia_trace_id("K7M2Q-5123456")
    assert not ids.is_motia_trace_id("K7M2O-5123456")  # O is not in the alphabet
    assert not ids.is_motia_trace_id("K7M2Q-512345")


# --- the store: lifecycle and status ------------------------------------------------------------


@pytest.mark.anyio
async def test_span_lifecycle_and_trace_status() -> None:
    store = MemoryTraceStore(clock=counting_clock())
    trace = store.start_trace("T1", "CreatePet")
    assert (trace.status, trace.start_ms, trace.span_count) == ("running", 1_000, 0)

    root = store.start_span("T1", None, "CreatePet", "api", "POST /pets")
    child = store.start_span("T1", root.id, "NotifyOwner", "event", "pet.created")
    assert (root.status, root.start_ms, root.end_ms) == ("running", 1_010, None)
    assert child.parent_id == root.id and child.trace_id == "T1"
    assert (trace.root_span_id, trace.span_count) == (root.id, 2)

    assert store.end_span(root.id) is root
    assert (root.status, root.end_ms) == ("completed", 1_030)
    assert (trace.status, trace.end_ms) == ("running", None)

    store.end_span(child.id)
    assert (trace.status, trace.end_ms) == ("completed", 1_040)

    found = await store.get_trace("T1")
    assert found is not None
    assert found[0] is trace
    assert [s.id for s in found[1]] == [root.id, child.id]


@pytest.mark.anyio
async def test_a_failed_span_fails_the_trace_for_good() -> None:
    store = MemoryTraceStore(clock=counting_clock())
    store.start_trace("T1", "Entry")
    root = store.start_span("T1", None, "Entry", "api", "GET /x")
    worker = store.start_span("T1", root.id, "Worker", "event", "work")
    try:
        raise KeyError("missing pet")
    except KeyError as exc:
        store.end_span(worker.id, exc)
    assert worker.status == "failed"
    assert worker.error is not None
    assert worker.error.name == "KeyError"
    assert "missing pet" in worker.error.message
    assert worker.error.stack and "raise KeyError" in worker.error.stack

    found = await store.get_trace("T1")
    assert found is not None
    trace = found[0]
    # Failed as soon as one span failed, even while another still runs.
    assert (trace.status, trace.end_ms) == ("failed", None)
    store.end_span(root.id)
    assert trace.status == "failed" and trace.end_ms is not None
    # A retry that succeeds does not undo the failure.
    retry = store.start_span("T1", root.id, "Worker", "event", "work")
    assert trace.end_ms is None
    store.end_span(retry.id)
    assert trace.status == "failed"

    runner_error = SpanError(message="boom", name="TypeError", stack="at handler (x.ts:3)")
    other = store.start_span("T2", None, "Other", "cron", "*/5 * * * *")
    store.end_span(other.id, runner_error)
    assert other.error is runner_error


@pytest.mark.anyio
async def test_a_span_started_after_completion_reopens_the_trace() -> None:
    store = MemoryTraceStore(clock=counting_clock())
    first = store.start_span("T1", None, "Entry", "api", "GET /")
    store.end_span(first.id)
    found = await store.get_trace("T1")
    assert found is not None and found[0].status == "completed"
    late = store.start_span("T1", first.id, "Late", "event", "later")
    assert (found[0].status, found[0].end_ms) == ("running", None)
    store.end_span(late.id)
    assert found[0].status == "completed"
    assert found[0].end_ms == late.end_ms


@pytest.mark.anyio
async def test_start_span_on_an_unknown_trace_creates_it() -> None:
    store = MemoryTraceStore()
    span = store.start_span("K7M2Q-5123456", None, "Tick", "cron", "0 * * * *")
    found = await store.get_trace("K7M2Q-5123456")
    assert found is not None
    assert (found[0].name, found[0].root_span_id) == ("Tick", span.id)
    # Starting a known trace returns it unchanged.
    assert store.start_trace("K7M2Q-5123456", "Other") is found[0]
    assert found[0].name == "Tick"
    chosen = store.start_span("K7M2Q-5123456", span.id, "Next", "event", "t", span_id="a" * 16)
    assert chosen.id == "a" * 16


def test_ending_twice_and_unknown_ids_change_nothing() -> None:
    store = MemoryTraceStore(clock=counting_clock())
    span = store.start_span("T1", None, "S", "api", "GET /")
    store.end_span(span.id)
    end_ms = span.end_ms
    store.end_span(span.id, RuntimeError("late"))
    assert (span.status, span.end_ms, span.error) == ("completed", end_ms, None)
    assert store.end_span("f" * 16) is None
    store.add_event("f" * 16, LogTraceEvent(level="info", message="x", timestamp=1))


# --- events ---------------------------------------------------------------------------------------


def stream_set(item: str, at: int, stream: str = "pets", group: str = "g") -> StreamTraceEvent:
    return StreamTraceEvent(operation="set", stream_name=stream, group_id=group, id=item,
                            timestamp=at)


def test_consecutive_stream_sets_on_one_item_coalesce() -> None:
    store = MemoryTraceStore()
    span = store.start_span("T1", None, "S", "api", "GET /")
    for at in (1, 2, 3):
        store.add_event(span.id, stream_set("a", at))
    assert len(span.events) == 1
    first = span.events[0]
    assert isinstance(first, StreamTraceEvent)
    assert (first.calls, first.timestamp, first.max_timestamp) == (3, 1, 3)

    store.add_event(span.id, stream_set("b", 4))  # another item
    store.add_event(span.id, stream_set("b", 5, group="h"))  # another group
    store.add_event(span.id, stream_set("b", 6, stream="owners"))  # another stream
    store.add_event(span.id, StreamTraceEvent(operation="get", stream_name="owners",
                                              group_id="g", id="b", timestamp=7))
    store.add_event(span.id, stream_set("b", 8, stream="owners"))  # not consecutive any more
    store.add_event(span.id, LogTraceEvent(level="info", message="hi", timestamp=9))
    store.add_event(span.id, stream_set("b", 10, stream="owners"))
    calls = [e.calls for e in span.events if isinstance(e, StreamTraceEvent)]
    assert calls == [3, 1, 1, 1, 1, 1, 1]
    assert len(span.events) == 8


def test_events_have_the_contract_shapes() -> None:
    events: list[TraceEvent] = [
        StateTraceEvent(operation="set", group="pets", key="1", timestamp=1),
        StateTraceEvent(operation="getGroup", group="pets", timestamp=2),
        EmitTraceEvent(topic="pet.created", success=True, data={"id": 1}, timestamp=3),
        EmitTraceEvent(topic="pet.created", success=False, timestamp=4),
        StreamTraceEvent(operation="send", stream_name="chat", group_id="room", timestamp=5),
        LogTraceEvent(level="warn", message="careful", timestamp=6),
    ]
    wire = [msgspec.json.decode(msgspec.json.encode(e)) for e in events]
    assert wire[0] == {"type": "state", "operation": "set", "group": "pets", "key": "1",
                       "timestamp": 1}
    assert wire[1]["key"] is None
    assert wire[2] == {"type": "emit", "topic": "pet.created", "success": True,
                       "data": {"id": 1}, "timestamp": 3}
    assert "data" not in wire[3]
    assert wire[4] == {"type": "stream", "operation": "send", "streamName": "chat",
                       "groupId": "room", "id": None, "calls": 1, "maxTimestamp": None,
                       "timestamp": 5}
    assert wire[5] == {"type": "log", "level": "warn", "message": "careful", "timestamp": 6}


def test_a_span_survives_the_wire() -> None:
    store = MemoryTraceStore()
    span = store.start_span("T1", None, "S", "api", "GET /")
    store.add_event(span.id, StateTraceEvent(operation="get", group="g", key="k", timestamp=1))
    store.add_event(span.id, stream_set("a", 2))
    store.end_span(span.id, SpanError(message="m"))
    encoded = msgspec.json.encode(span)
    assert b'"traceId":"T1"' in encoded and b'"startMs"' in encoded
    assert msgspec.json.decode(encoded, type=Span) == span


# --- bounds ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_store_keeps_the_newest_traces() -> None:
    store = MemoryTraceStore(max_traces=3)
    spans = [store.start_span(f"T{i}", None, f"S{i}", "api", "GET /") for i in range(5)]
    assert [t.id for t in await store.list_traces()] == ["T4", "T3", "T2"]
    assert [t.id for t in await store.list_traces(limit=2)] == ["T4", "T3"]
    assert await store.list_traces(limit=0) == []
    assert await store.get_trace("T0") is None
    assert await store.get_trace("T1") is None
    # The evicted trace's span may still be running: recording into it is ignored.
    store.add_event(spans[0].id, LogTraceEvent(level="info", message="x", timestamp=1))
    assert spans[0].events == []
    assert store.end_span(spans[0].id) is None
    assert store.end_span(spans[4].id) is spans[4]


@pytest.mark.anyio
async def test_caps_on_events_and_spans() -> None:
    store = MemoryTraceStore(max_events_per_span=2, max_spans_per_trace=2)
    span = store.start_span("T1", None, "S", "api", "GET /")
    for at in range(5):
        store.add_event(span.id, LogTraceEvent(level="info", message=str(at), timestamp=at))
    assert [e.timestamp for e in span.events] == [0, 1]
    assert span.dropped_events == 3
    store.start_span("T1", span.id, "S2", "event", "t")
    extra = store.start_span("T1", span.id, "S3", "event", "t")
    assert store.end_span(extra.id) is None
    store.end_span(span.id)
    found = await store.get_trace("T1")
    assert found is not None
    assert (found[0].span_count, found[0].dropped_spans, len(found[1])) == (2, 1, 2)


@pytest.mark.anyio
async def test_a_trace_has_an_event_budget_across_its_spans() -> None:
    """Spans x events per span multiply; the trace's own budget bounds the product."""
    store = MemoryTraceStore(max_events_per_span=10, max_events_per_trace=15)
    spans = [store.start_span("T1", None, f"S{n}", "event", "t") for n in range(3)]
    for span in spans:
        for at in range(10):
            store.add_event(span.id, StateTraceEvent(operation="get", group="g", key=str(at),
                                                     timestamp=at))
    assert [len(s.events) for s in spans] == [10, 5, 0]
    assert [s.dropped_events for s in spans] == [0, 5, 10]
    assert store.events_held == 15


@pytest.mark.anyio
async def test_past_the_total_event_budget_the_oldest_traces_go() -> None:
    store = MemoryTraceStore(max_events_total=25)
    for n in range(4):
        span = store.start_span(f"T{n}", None, "S", "event", "t")
        for at in range(10):
            store.add_event(span.id, StateTraceEvent(operation="get", group="g", key=None,
                                                     timestamp=at))
    assert [t.id for t in await store.list_traces()] == ["T3", "T2"]
    assert store.events_held == 20
    store.reset()
    assert store.events_held == 0


def test_log_messages_are_truncated_with_a_marker() -> None:
    store = MemoryTraceStore()
    span = store.start_span("T1", None, "S", "event", "t")
    store.add_event(span.id, LogTraceEvent(level="info", message="x" * 100_000, timestamp=1))
    store.add_event(span.id, LogTraceEvent(level="info", message="short", timestamp=2))
    long, short = span.events
    assert isinstance(long, LogTraceEvent) and isinstance(short, LogTraceEvent)
    assert long.message == "x" * MAX_LOG_MESSAGE_CHARS + (
        f"... [truncated {100_000 - MAX_LOG_MESSAGE_CHARS} characters]")
    assert short.message == "short"


def test_log_store_entries_are_truncated_too() -> None:
    from motia_core.observability.store.base import log_entry

    entry = log_entry(1, {"time": 1, "level": "info", "msg": "y" * 9000})
    assert entry.message.startswith("y" * MAX_LOG_MESSAGE_CHARS)
    assert entry.message.endswith(f"[truncated {9000 - MAX_LOG_MESSAGE_CHARS} characters]")


@pytest.mark.parametrize("option", ["max_traces", "max_spans_per_trace", "max_events_per_span",
                                    "max_events_per_trace", "max_events_total"])
def test_caps_must_be_positive(option: str) -> None:
    with pytest.raises(ValueError, match=option):
        MemoryTraceStore(**{option: 0})  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_reset_forgets_everything() -> None:
    store = MemoryTraceStore()
    store.start_span("T1", None, "S", "api", "GET /")
    store.reset()
    assert await store.list_traces() == []


# --- listeners ------------------------------------------------------------------------------------


def test_listeners_see_every_change_in_order() -> None:
    store = MemoryTraceStore()
    changes: list[TraceChange] = []
    unsubscribe = store.subscribe(changes.append)
    span = store.start_span("T1", None, "S", "api", "GET /")
    store.add_event(span.id, stream_set("a", 1))
    store.add_event(span.id, stream_set("a", 2))
    store.end_span(span.id)
    assert [c.action for c in changes] == [
        "trace_started", "span_started", "span_event", "span_event", "span_ended"]
    assert changes[0].span is None
    assert all(c.span is span for c in changes[1:])
    coalesced = changes[3].event
    assert isinstance(coalesced, StreamTraceEvent) and coalesced.calls == 2
    assert changes[-1].trace.status == "completed"

    unsubscribe()
    unsubscribe()  # twice is harmless
    store.start_span("T2", None, "S", "api", "GET /")
    assert len(changes) == 5


def test_a_failing_listener_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryTraceStore()
    seen: list[str] = []

    def broken(change: TraceChange) -> None:
        raise RuntimeError("hub is down")

    store.subscribe(broken)
    store.subscribe(lambda change: seen.append(change.action))
    with caplog.at_level(logging.ERROR, logger="motia.traces"):
        span = store.start_span("T1", None, "S", "api", "GET /")
        store.end_span(span.id)
    assert seen == ["trace_started", "span_started", "span_ended"]
    assert span.status == "completed"
    failures = [r for r in caplog.records if getattr(r, "action", None) == "listener_failed"]
    assert len(failures) == 3
    assert failures[0].exc_info is not None
