"""Running one step: Motia's call convention, the middleware onion, deadline and error shape.

Async handlers run as tasks on the loop; a plain ``def handler`` runs in a worker thread so it
cannot stall every other invocation. The deadline is a single ``call_later`` that cancels the
invocation's task (cheaper than ``wait_for`` on every call); the same cancel path serves
``$/cancelRequest``. After the handler returns, the ctx calls it did not await are drained before
the answer goes out, because the core refuses callbacks for an invocation that has ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from motia_runner.context import Context, Invocation
from motia_runner.errors import HandlerError, RequestCancelled, RpcError, TimedOut
from motia_runner.loader import Step
from motia_runner.otel_bridge import attach, detach

__all__ = ("execute", "handler_error")

_HERE = os.path.dirname(os.path.abspath(__file__))
_HIDDEN = (_HERE, os.path.dirname(asyncio.__file__),
           os.path.join(os.path.dirname(os.path.dirname(asyncio.__file__)), "concurrent"))
_isawaitable = inspect.isawaitable


async def _call(step: Step, args: tuple[Any, ...], executor: Executor,
                carry_context: bool = False) -> Any:
    handler: Callable[..., Any] = step.handler  # type: ignore[assignment]
    if step.is_async:
        return await handler(*args)
    loop = asyncio.get_running_loop()
    if carry_context:  # the worker thread runs in this task's context (the OTel bridge's span)
        result = await loop.run_in_executor(executor, contextvars.copy_context().run, handler,
                                            *args)
    else:
        result = await loop.run_in_executor(executor, handler, *args)
    if _isawaitable(result):  # a sync wrapper around a coroutine function
        result = await result
    return result


async def _with_middleware(step: Step, req: Any, ctx: Context, executor: Executor,
                           inv: Invocation, validate_body: bool, carry: bool) -> Any:
    """First middleware outermost; ``next_fn()`` takes no arguments and returns the response.
    With ``validate_body`` the core checks the body as the middleware left it, just before the
    handler; its 400 then stands for the handler's response (PROTOCOL.md 3.3)."""
    chain = step.middleware
    last = len(chain)

    async def at(index: int) -> Any:
        if index == last:
            if validate_body:
                body = req.get("body") if isinstance(req, dict) else None
                refused = await inv.call("body.validate", {"invocationId": inv.id, "body": body})
                if refused is not None:
                    return refused
            return await _call(step, (req, ctx), executor, carry)
        result = chain[index](req, ctx, lambda: at(index + 1))
        if _isawaitable(result):
            result = await result
        return result

    return await at(0)


def _trim(te: traceback.TracebackException) -> None:
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not f.filename.startswith(_HIDDEN)]
    )
    for linked in (te.__cause__, te.__context__):
        if linked is not None:
            _trim(linked)


def handler_error(exc: BaseException) -> HandlerError:
    """HandlerError with ``{name, message, stack}``; the stack shows user frames only."""
    te = traceback.TracebackException.from_exception(exc)
    _trim(te)
    name = type(exc).__name__
    message = str(exc)
    return HandlerError(f"{name}: {message}" if message else name,
                        {"name": name, "message": message, "stack": "".join(te.format())})


def _stopped(inv: Invocation, step: Step, timeout_ms: float | None) -> RpcError:
    if inv.stop_reason == "timeout":
        return TimedOut(f"{os.path.basename(step.file)} ran past timeoutMs={timeout_ms}")
    return RequestCancelled("cancelled by the core ($/cancelRequest)")


async def execute(inv: Invocation, step: Step, trigger: str, data: Any, trace_id: str,
                  flows: list[str], timeout_ms: float | None, executor: Executor,
                  validate_body: bool = False, traceparent: str | None = None,
                  tracestate: str | None = None) -> Any:
    """Run the handler; return its output (falsy -> None) or raise an RpcError."""
    ctx = Context(inv, trace_id, flows, traceparent, tracestate)
    # This coroutine runs as its own task, so the OTel context attached here is the handler's.
    token = attach(traceparent, tracestate)
    carry = token is not None
    timer = None
    if timeout_ms is not None:
        timer = inv.loop.call_later(timeout_ms / 1000, inv.stop, "timeout")
    try:
        try:
            if trigger == "cron":
                output = await _call(step, (ctx,), executor, carry)
            elif trigger == "api" and (step.middleware or validate_body):
                output = await _with_middleware(step, data, ctx, executor, inv, validate_body,
                                                carry)
            else:
                output = await _call(step, (data, ctx), executor, carry)
        except asyncio.CancelledError:
            raise
        except (Exception, SystemExit) as exc:
            error = handler_error(exc)
            await inv.drain()
            raise error from None
        await inv.drain()
    except asyncio.CancelledError:
        inv.cancel_calls()
        if inv.stop_reason is None:
            raise  # not ours: the runner itself is going away
        raise _stopped(inv, step, timeout_ms) from None
    finally:
        inv.ended = True
        if timer is not None:
            timer.cancel()
        detach(token)
    if inv.stop_reason is not None:  # the handler swallowed the cancellation
        raise _stopped(inv, step, timeout_ms)
    return output if output else None
