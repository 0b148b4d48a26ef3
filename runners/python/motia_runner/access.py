"""``streams.canAccess``: a stream file's ``config["canAccess"]``, evaluated for one join.

The original spawned a Python process per WebSocket join to import the stream file and call this
function (``can-access.py``); here the file is already loaded, so a join costs one round trip.
The function gets what the original gave it: the subscription as a dict (``{"groupId": ...,
"id": ...}``, without ``id`` for a group join) and the auth context, and may be sync or async.
A plain ``def`` runs in the worker threads, as sync handlers do, so a slow check (a database
lookup, say) cannot stall the invocations sharing the loop.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import Executor
from typing import Any

from motia_runner.errors import InvalidParams, StepNotFound
from motia_runner.invoke import handler_error
from motia_runner.loader import Step

__all__ = ("can_access",)


def _params(params: Any) -> tuple[str, dict[str, Any], Any]:
    if type(params) is not dict:
        raise InvalidParams("streams.canAccess: params must be an object, got "
                            f"{type(params).__name__}")
    file, subscription = params.get("file"), params.get("subscription")
    if type(file) is not str:
        raise InvalidParams("streams.canAccess: params.file must be a string (the stream file)")
    if type(subscription) is not dict or type(subscription.get("groupId")) is not str or (
        subscription.get("id") is not None and type(subscription.get("id")) is not str
    ):
        raise InvalidParams("streams.canAccess: params.subscription must be an object with a "
                            "string groupId and an optional string id")
    clean = {"groupId": subscription["groupId"]}
    if subscription.get("id") is not None:
        clean["id"] = subscription["id"]
    return file, clean, params.get("authContext")


async def can_access(steps: dict[str, Step], params: Any, executor: Executor) -> bool:
    """The join's verdict; raises an RpcError the server sends back as the answer."""
    file, subscription, auth_context = _params(params)
    step = steps.get(file)
    if step is None:
        raise StepNotFound(f"streams.canAccess: no stream loaded from {file!r}; send steps.load "
                           "for it first, or fix the error its load reported")
    check = step.config.get("canAccess")
    if not callable(check):
        return True  # reloaded without canAccess: the stream is open, as in the original
    try:
        if inspect.iscoroutinefunction(check):
            allowed = await check(subscription, auth_context)
        else:
            loop = asyncio.get_running_loop()
            allowed = await loop.run_in_executor(executor, check, subscription, auth_context)
            if inspect.isawaitable(allowed):  # a lambda around a coroutine function
                allowed = await allowed
    except Exception as exc:
        raise handler_error(exc) from None
    return bool(allowed)
