"""Who may connect to the stream socket, and who may join which stream (MOTIA_CONTRACT 6.3).

Two optional hooks, both supplied by the app, both sync or async:

* ``authenticate(headers, url)`` runs on the WebSocket handshake. Its return value (None
  included) becomes the socket's auth context; raising anything refuses the upgrade with HTTP
  401 "Authentication failed". ``headers`` has lower-case names (as Node gives them to the
  original's hook) and ``url`` is the request target, path and query (``/?token=...``): clients
  pass credentials in the query string or in the subprotocol list
  (``sec-websocket-protocol``).
* ``can_access(stream, subscription, auth_context)`` runs on every join of a stream. The app
  decides how: a stream file's ``canAccess`` is evaluated in that file's runner (protocol method
  ``streams.canAccess``); a stream without one is open. False, or an exception, denies.

A denied join gets the error frame of the original, ``{type: 'event', event: {type: 'error',
data: {code: 'STREAM_ACCESS_DENIED', message: 'Access denied'}}}``, and is not joined. A join to
a stream the project does not define gets the same frame twice, first with the message
``Stream <name> not found``, as in the original, but only when a hook is configured: without
any, such a join is accepted silently and gets no sync frame.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from motia_core.streams.hub import Subscription

__all__ = (
    "HookNotFound",
    "load_hook",
    "ACCESS_DENIED_CODE",
    "ACCESS_DENIED_MESSAGE",
    "AUTH_FAILED_REASON",
    "Authenticate",
    "AuthenticationFailed",
    "CanAccess",
    "StreamAccess",
    "error_event",
)

log = logging.getLogger("motia.streams")

ACCESS_DENIED_CODE = "STREAM_ACCESS_DENIED"
ACCESS_DENIED_MESSAGE = "Access denied"
AUTH_FAILED_REASON = "Authentication failed"

# (headers with lower-case names, request target) -> auth context; raise to refuse.
Authenticate = Callable[[Mapping[str, str], str], Any]
# (stream name, subscription, auth context) -> truthy to allow; may be a coroutine function.
CanAccess = Callable[[str, Subscription, Any], Any]


class AuthenticationFailed(Exception):
    """The handshake's ``authenticate`` hook refused the connection (answered with 401)."""


def error_event(message: str) -> dict[str, Any]:
    """The ``event`` of an access error frame, exactly as the original stream server sends it."""
    return {"type": "event", "event": {"type": "error", "data": {
        "code": ACCESS_DENIED_CODE, "message": message}}}


def _name_of(hook: Callable[..., Any]) -> str:
    """``module:function``, as the ``stream_auth`` setting names it."""
    module = getattr(hook, "__module__", None)
    name = getattr(hook, "__qualname__", None)
    return f"{module}:{name}" if module and name else repr(hook)


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class StreamAccess:
    """The access policy of the stream socket: hooks plus the names of the project's streams.

    ``streams`` is called for the current names on each join (so a reload that adds a stream
    needs nothing else); None means every name is known.
    """

    def __init__(self, *, streams: Callable[[], Collection[str]] | None = None,
                 authenticate: Authenticate | None = None,
                 can_access: CanAccess | None = None) -> None:
        self.streams = streams
        self.authenticate = authenticate
        self.can_access = can_access

    @property
    def guarded(self) -> bool:
        """A hook is configured: joins to unknown streams are refused, not accepted silently."""
        return self.authenticate is not None or self.can_access is not None

    def knows(self, stream: str) -> bool:
        return self.streams is None or stream in self.streams()

    async def handshake(self, headers: Mapping[str, str], url: str) -> Any:
        """The socket's auth context; raises :class:`AuthenticationFailed` when refused."""
        if self.authenticate is None:
            return None
        try:
            return await _resolve(self.authenticate(headers, url))
        except Exception as exc:
            # The client only learns "401"; the operator must learn why. The query string is
            # left out: clients pass their credentials in it.
            log.error("stream_auth hook %s refused the stream socket handshake for %s: %s: %s",
                      _name_of(self.authenticate), url.partition("?")[0],
                      type(exc).__name__, exc, exc_info=exc,
                      extra={"action": "streams.auth_failed"})
            raise AuthenticationFailed(AUTH_FAILED_REASON) from exc

    async def denials(self, subscription: Subscription, auth_context: Any) -> list[str]:
        """The messages of the error frames a join gets; empty when it may join."""
        if not self.knows(subscription.stream):
            if not self.guarded:
                return []
            return [f"Stream {subscription.stream} not found", ACCESS_DENIED_MESSAGE]
        if self.can_access is None:
            return []
        try:
            allowed = await _resolve(self.can_access(subscription.stream, subscription,
                                                     auth_context))
        except Exception as exc:
            log.error("canAccess of stream %r failed for group %r (the join is denied): %s",
                      subscription.stream, subscription.group_id, exc,
                      extra={"action": "streams.can_access_failed"})
            allowed = False
        return [] if allowed else [ACCESS_DENIED_MESSAGE]


class HookNotFound(ValueError):
    """The ``stream_auth`` setting does not name an importable callable."""


def load_hook(spec: str, project_root: Path) -> Callable[..., Any]:
    """The callable ``spec`` names ("package.module:function"), imported from the project root."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise HookNotFound(f"stream_auth = {spec!r}: expected 'module:function', e.g. "
                           "'src.auth:authenticate'")
    root = str(project_root)
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's to fix: say which and why
        raise HookNotFound(f"stream_auth = {spec!r}: cannot import {module_name!r} from "
                           f"{root}: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(root)
    hook = getattr(module, attribute, None)
    if not callable(hook):
        raise HookNotFound(f"stream_auth = {spec!r}: {module_name} has no function "
                           f"{attribute!r}")
    return hook  # type: ignore[no-any-return]
