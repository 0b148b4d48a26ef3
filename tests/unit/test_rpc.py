"""The JSON-RPC endpoint, two of them wired back to back through in-memory byte pipes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from motia_core import protocol as p
from motia_core.protocol import errors
from motia_core.protocol.rpc import DeadlineExceeded, Endpoint, ProtocolViolation

pytestmark = pytest.mark.anyio


class Pipe(anyio.abc.ByteStream):
    """One direction of bytes: what is sent on one side is received on the other."""

    def __init__(self, send: MemoryObjectSendStream[bytes],
                 receive: MemoryObjectReceiveStream[bytes]) -> None:
        self._send, self._receive = send, receive

    async def send(self, item: bytes) -> None:
        await self._send.send(item)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise

    async def send_eof(self) -> None:
        await self._send.aclose()

    async def aclose(self) -> None:
        await self._send.aclose()
        await self._receive.aclose()


def pipe() -> Pipe:
    send, receive = anyio.create_memory_object_stream[bytes](100)
    return Pipe(send, receive)


CORE_SERVES = {n: m for n, m in p.METHODS.items() if m.direction != "core->runner"}
RUNNER_SERVES = {n: m for n, m in p.METHODS.items() if m.direction != "runner->core"}


@asynccontextmanager
async def connected(core_handler: Any, runner_handler: Any,
                    limit: int = p.DEFAULT_MAX_MESSAGE_BYTES,
                    ) -> AsyncIterator[tuple[Endpoint, Endpoint, Pipe, Pipe]]:
    to_runner, to_core = pipe(), pipe()
    core = Endpoint(to_core, to_runner, name="core", methods=CORE_SERVES, handler=core_handler,
                    max_message_bytes=limit)
    runner = Endpoint(to_runner, to_core, name="runner", methods=RUNNER_SERVES,
                      handler=runner_handler, max_message_bytes=limit)
    async with anyio.create_task_group() as tg:
        await tg.start(core.serve)
        await tg.start(runner.serve)
        yield core, runner, to_runner, to_core
        tg.cancel_scope.cancel()
    await to_runner.aclose()
    await to_core.aclose()


def invoke(i: int, input: Any = None) -> p.InvokeParams:
    return p.InvokeParams(invocation_id=f"inv-{i}", file="/s.py", trigger="event", input=input,
                          trace=p.TraceContext(trace_id="t", span_id=f"s{i}"))


async def never(method: str, params: Any) -> Any:
    raise AssertionError(f"unexpected {method}")


async def test_request_and_typed_result() -> None:
    async def runner_handler(method: str, params: Any) -> Any:
        assert method == "step.invoke" and isinstance(params, p.InvokeParams)
        return p.InvokeResult(output={"echo": params.input})

    async with connected(never, runner_handler) as (core, _, _, _):
        result = await core.request("step.invoke", invoke(1, [1, "é"]), p.InvokeResult)
    assert result == p.InvokeResult(output={"echo": [1, "é"]})


async def test_concurrent_requests_in_both_directions_are_matched() -> None:
    async def core_handler(method: str, params: Any) -> Any:
        assert isinstance(params, p.StateKeyParams)
        await anyio.sleep(0.001 * (hash(params.key) % 3))
        return f"value-of-{params.key}"

    async def runner_handler(method: str, params: Any) -> Any:
        # While serving the core's request, call back into the core, like a handler does.
        got = await runner.request(
            "state.get", p.StateKeyParams(invocation_id=params.invocation_id, group="g",
                                          key=params.invocation_id))
        return p.InvokeResult(output=got)

    async with connected(core_handler, runner_handler) as (core, runner, _, _):
        results: dict[int, Any] = {}

        async def one(i: int) -> None:
            results[i] = (await core.request("step.invoke", invoke(i), p.InvokeResult)).output

        async with anyio.create_task_group() as tg:
            for i in range(300):
                tg.start_soon(one, i)
    assert results == {i: f"value-of-inv-{i}" for i in range(300)}


async def test_handler_errors_round_trip_as_their_class() -> None:
    async def runner_handler(method: str, params: Any) -> Any:
        raise errors.HandlerError("ValueError: nope", {"name": "ValueError", "stack": "..."})

    async with connected(never, runner_handler) as (core, _, _, _):
        with pytest.raises(errors.HandlerError) as info:
            await core.request("step.invoke", invoke(1))
    assert info.value.data["name"] == "ValueError"


async def test_a_bug_in_the_handler_is_an_internal_error_with_a_stack() -> None:
    async def runner_handler(method: str, params: Any) -> Any:
        return {}["missing"]

    async with connected(never, runner_handler) as (core, _, _, _):
        with pytest.raises(errors.InternalError) as info:
            await core.request("step.invoke", invoke(1))
    assert "KeyError" in str(info.value) and "missing" in info.value.data["stack"]


async def test_unknown_method_and_bad_params() -> None:
    async with connected(never, never) as (core, _, _, _):
        with pytest.raises(errors.MethodNotFound, match=r"no\.such"):
            await core.request("no.such", {})
        with pytest.raises(errors.InvalidParams, match=r"\$.trigger"):
            await core.request("step.invoke", {"invocationId": "i", "file": "f",
                                               "trigger": "sometimes",
                                               "trace": {"traceId": "t", "spanId": "s"}})


async def test_notifications_reach_the_handler() -> None:
    got: list[Any] = []
    done = anyio.Event()

    async def core_handler(method: str, params: Any) -> Any:
        got.append((method, params))
        done.set()

    async with connected(core_handler, never) as (_, runner, _, _):
        await runner.notify("log", p.LogParams(level="info", msg="hi", fields={"a": 1}))
        with anyio.fail_after(2):
            await done.wait()
    assert got == [("log", p.LogParams(level="info", msg="hi", fields={"a": 1}))]


async def test_cancelling_the_caller_cancels_the_peer_handler() -> None:
    started, cancelled = anyio.Event(), anyio.Event()

    async def runner_handler(method: str, params: Any) -> Any:
        started.set()
        try:
            await anyio.sleep(30)
        finally:
            cancelled.set()

    async with connected(never, runner_handler) as (core, _, _, _):
        with anyio.move_on_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(core.request, "step.invoke", invoke(1))
                await started.wait()
                tg.cancel_scope.cancel()
        with anyio.fail_after(2):
            await cancelled.wait()
        assert core.pending_count == 0


async def test_a_cancelled_request_to_a_peer_that_does_not_read_returns_and_says_so() -> None:
    """The cancellation is written under a shield, which must not outlast a peer that never
    reads: the caller gets its cancellation back, and the owner learns of the stall."""
    stalled: list[bool] = []
    send, receive = anyio.create_memory_object_stream[bytes](0)  # nobody reads: sends block
    unread, incoming = Pipe(send, receive), pipe()
    core = Endpoint(incoming, unread, name="core", methods=CORE_SERVES, handler=never,
                    on_stalled=lambda: stalled.append(True))
    async with anyio.create_task_group() as tg:
        await tg.start(core.serve)
        with anyio.fail_after(5):  # far past the cancellation's bound; the old code hung here
            with anyio.move_on_after(0.1) as caller:
                await core.request("step.invoke", invoke(1))
        assert caller.cancelled_caught and stalled == [True]
        tg.cancel_scope.cancel()
    await unread.aclose()
    await incoming.aclose()


async def test_a_request_past_its_deadline_fails_and_is_cancelled_at_the_peer() -> None:
    """The deadline of ``timeout_s``: the request fails, the peer's handler is cancelled, the
    requests with later deadlines (or none) go on, and a late answer is dropped."""
    started, cancelled = anyio.Event(), anyio.Event()
    release = anyio.Event()

    async def runner_handler(method: str, params: Any) -> Any:
        if params.invocation_id == "inv-1":
            started.set()
            try:
                await anyio.sleep(30)
            finally:
                cancelled.set()
        await release.wait()
        return p.InvokeResult(output=params.invocation_id)

    async with connected(never, runner_handler) as (core, _, _, _):
        results: dict[int, Any] = {}

        async def later(i: int, timeout_s: float | None) -> None:
            results[i] = (await core.request("step.invoke", invoke(i), p.InvokeResult,
                                             timeout_s=timeout_s)).output

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(later, 2, 20.0)
                tg.start_soon(later, 3, None)
                with pytest.raises(DeadlineExceeded, match=r"within 0\.2s"):
                    await core.request("step.invoke", invoke(1), p.InvokeResult,
                                       timeout_s=0.2)
                assert started.is_set()
                await cancelled.wait()
                release.set()
        assert results == {2: "inv-2", 3: "inv-3"}
        assert core.pending_count == 0


async def test_a_deadline_ends_a_write_to_a_peer_that_does_not_read() -> None:
    stalled: list[bool] = []
    send, receive = anyio.create_memory_object_stream[bytes](0)  # nobody reads: sends block
    unread, incoming = Pipe(send, receive), pipe()
    core = Endpoint(incoming, unread, name="core", methods=CORE_SERVES, handler=never,
                    on_stalled=lambda: stalled.append(True))
    async with anyio.create_task_group() as tg:
        await tg.start(core.serve)
        with anyio.fail_after(5):
            with pytest.raises(DeadlineExceeded):
                await core.request("step.invoke", invoke(1), timeout_s=0.1)
        # The cancellation could not be written either: the owner hears of the stall.
        assert stalled == [True] and core.pending_count == 0
        # The deadline's cancellation of the write is not left on the task.
        await anyio.sleep(0)
        tg.cancel_scope.cancel()
    await unread.aclose()
    await incoming.aclose()


async def test_close_fails_every_pending_request_with_the_given_error() -> None:
    async def runner_handler(method: str, params: Any) -> Any:
        await anyio.sleep(30)

    async with connected(never, runner_handler) as (core, _, _, _):
        failures: list[BaseException] = []

        async def one(i: int) -> None:
            try:
                await core.request("step.invoke", invoke(i))
            except errors.RpcError as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(one, i)
            await anyio.wait_all_tasks_blocked()
            core.close(errors.RunnerCrashed("runner python#0 (pid 42) exited with code -9"))
        with pytest.raises(errors.RunnerCrashed):
            await core.request("step.invoke", invoke(99))
    assert len(failures) == 10
    assert all(isinstance(f, errors.RunnerCrashed) and "pid 42" in str(f) for f in failures)


async def test_outgoing_message_over_the_limit_is_refused_locally() -> None:
    async with connected(never, never, limit=200) as (core, _, _, _):
        with pytest.raises(errors.MessageTooLarge, match="exceeds the limit of 200"):
            await core.request("step.invoke", invoke(1, "x" * 500))
        assert core.pending_count == 0


async def test_result_over_the_limit_becomes_an_error_reply() -> None:
    async def runner_handler(method: str, params: Any) -> Any:
        return p.InvokeResult(output="y" * 500)

    async with connected(never, runner_handler, limit=300) as (core, _, _, _):
        with pytest.raises(errors.MessageTooLarge):
            await core.request("step.invoke", invoke(1))


async def test_stray_output_is_a_protocol_violation() -> None:
    async with pipe() as to_core, pipe() as to_runner:
        core = Endpoint(to_core, to_runner, name="runner x", methods=CORE_SERVES, handler=never)
        await to_core.send(b"this is not json\n")
        with pytest.raises(ProtocolViolation, match="not JSON-RPC: 'this is not json'"):
            await core.serve()


async def test_oversized_incoming_line_is_a_protocol_violation() -> None:
    async with pipe() as to_core, pipe() as to_runner:
        core = Endpoint(to_core, to_runner, name="runner x", methods=CORE_SERVES, handler=never,
                        max_message_bytes=64)
        await to_core.send(b"[" * 100)
        with pytest.raises(ProtocolViolation, match="oversized"):
            await core.serve()


async def test_json_that_is_not_jsonrpc_gets_invalid_request_and_the_endpoint_lives() -> None:
    async def core_handler(method: str, params: Any) -> Any:
        return {"got": params.key}

    # Only the core endpoint runs: the test plays the runner on the raw pipes.
    async with pipe() as to_core, pipe() as to_runner, anyio.create_task_group() as tg:
        core = Endpoint(to_core, to_runner, name="core", methods=CORE_SERVES,
                        handler=core_handler)
        await tg.start(core.serve)
        await to_core.send(b'{"id": [1], "method": 3}\n')
        assert b'"code":-32600' in await to_runner.receive()
        # still serving: a well-formed request after the bad one is answered
        await to_core.send(b'{"jsonrpc":"2.0","id":7,"method":"state.get","params":'
                           b'{"invocationId":"i","group":"g","key":"k"}}\n')
        reply = await to_runner.receive()
        assert b'"id":7' in reply and b'"got":"k"' in reply
        tg.cancel_scope.cancel()


def _state_get(request_id: int) -> bytes:
    return (b'{"jsonrpc":"2.0","id":%d,"method":"state.get","params":'
            b'{"invocationId":"i","group":"g","key":"k%d"}}\n' % (request_id, request_id))


async def test_requests_past_the_in_flight_cap_get_an_error_not_a_task() -> None:
    """A runner flooding the core with requests it never lets finish: at most ``max_in_flight``
    handlers run; the rest are answered with an error at once (issue 15 item 7)."""
    running = 0
    peak = 0
    release = anyio.Event()

    async def core_handler(method: str, params: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await release.wait()
        finally:
            running -= 1
        return {"got": params.key}

    with anyio.fail_after(10):
        async with pipe() as to_core, pipe() as to_runner, anyio.create_task_group() as tg:
            core = Endpoint(to_core, to_runner, name="core", methods=CORE_SERVES,
                            handler=core_handler, max_in_flight=3)
            await tg.start(core.serve)
            await to_core.send(b"".join(_state_get(n) for n in range(1, 6)))  # one chunk
            refusals = [await to_runner.receive() for _ in range(2)]
            assert all(b'"code":-32000' in r and b"too many requests in flight" in r
                       for r in refusals)
            assert {b'"id":4' in r or b'"id":5' in r for r in refusals} == {True}
            assert core.refused_busy == 2 and peak == 3
            release.set()
            answers = [await to_runner.receive() for _ in range(3)]
            assert all(b'"got":"k' in a for a in answers)
            # Places are free again: the next request runs.
            await to_core.send(_state_get(6))
            assert b'"got":"k6"' in await to_runner.receive()
            assert peak == 3
            tg.cancel_scope.cancel()


async def test_a_cancellation_reaches_a_request_sent_in_the_same_chunk() -> None:
    started = anyio.Event()

    async def core_handler(method: str, params: Any) -> Any:
        started.set()
        await anyio.sleep_forever()

    with anyio.fail_after(10):
        async with pipe() as to_core, pipe() as to_runner, anyio.create_task_group() as tg:
            core = Endpoint(to_core, to_runner, name="core", methods=CORE_SERVES,
                            handler=core_handler)
            await tg.start(core.serve)
            await to_core.send(_state_get(1) + b'{"jsonrpc":"2.0","method":"$/cancelRequest",'
                               b'"params":{"id":1}}\n')
            reply = await to_runner.receive()
            assert b'"id":1' in reply and b'"code":-32800' in reply
            tg.cancel_scope.cancel()


async def test_the_worker_of_a_cancelled_request_serves_the_next_ones() -> None:
    """Requests are served by worker tasks that take one after another: a cancellation ends
    its own request, not the worker's later ones."""
    started = anyio.Event()

    async def core_handler(method: str, params: Any) -> Any:
        if params.key == "k1":
            started.set()
            await anyio.sleep_forever()
        return params.key

    with anyio.fail_after(10):
        async with pipe() as to_core, pipe() as to_runner, anyio.create_task_group() as tg:
            core = Endpoint(to_core, to_runner, name="core", methods=CORE_SERVES,
                            handler=core_handler)
            await tg.start(core.serve)
            await to_core.send(_state_get(1))
            await started.wait()
            await to_core.send(b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}\n')
            reply = await to_runner.receive()
            assert b'"id":1' in reply and b'"code":-32800' in reply
            for n in range(2, 6):  # one at a time: the same idle worker takes each
                await to_core.send(_state_get(n))
                reply = await to_runner.receive()
                assert b'"result":"k%d"' % n in reply, reply
            tg.cancel_scope.cancel()


async def test_notifications_past_the_cap_wait_for_a_place_and_none_is_lost() -> None:
    seen: list[str] = []
    release = anyio.Event()

    async def core_handler(method: str, params: Any) -> Any:
        seen.append(params.msg)
        await release.wait()

    lines = b"".join(b'{"jsonrpc":"2.0","method":"log","params":{"invocationId":"i",'
                     b'"level":"info","msg":"m%d"}}\n' % n for n in range(5))
    with anyio.fail_after(10):
        async with pipe() as to_core, pipe() as to_runner, anyio.create_task_group() as tg:
            core = Endpoint(to_core, to_runner, name="core", methods=CORE_SERVES,
                            handler=core_handler, max_in_flight=2)
            await tg.start(core.serve)
            await to_core.send(lines)
            while len(seen) < 2:
                await anyio.lowlevel.checkpoint()
            await anyio.wait_all_tasks_blocked()
            assert seen == ["m0", "m1"]  # the rest wait: no task was made for them yet
            release.set()
            while len(seen) < 5:
                await anyio.lowlevel.checkpoint()
            assert sorted(seen) == [f"m{n}" for n in range(5)]
            tg.cancel_scope.cancel()
