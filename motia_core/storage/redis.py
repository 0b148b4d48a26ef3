"""What the Redis stores (state, event queue) share: one client per store, and errors that say
which server failed and how to get one.

Each store owns a ``redis.asyncio`` client over a bounded, blocking connection pool: a burst of
200 concurrent calls waits for a free connection instead of opening 200 sockets. Nothing is
connected until the first call (or ``open()``), so building an adapter never touches the network.
Every key a store writes starts with its ``prefix``, so several projects (or test runs) can share
one server without seeing each other.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

# redis-py is imported on first use, not with this module: a project on SQLite never loads it
# (nor what it loads in turn, e.g. OpenTelemetry's metrics when installed).
if TYPE_CHECKING:
    import redis.asyncio

__all__ = (
    "DEFAULT_PREFIX",
    "MAX_CONNECTIONS",
    "START_HINT",
    "connect",
    "delete_prefix",
    "mapped_errors",
    "ping",
    "redact",
    "unreachable",
)

# Every key motia-core writes starts with this unless configured otherwise.
DEFAULT_PREFIX = "motia:"
# Connections per store; callers beyond this wait for one (up to POOL_TIMEOUT_S).
MAX_CONNECTIONS = 32
POOL_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
# Longer than any blocking read the queue makes (its XREAD BLOCK is bounded well below this).
SOCKET_TIMEOUT_S = 30.0
# How to get a server, for the messages a user sees when none answers.
START_HINT = ("start one (e.g. `redis-server --daemonize yes --bind 127.0.0.1 --port 6379`) or "
              "point --redis-url, MOTIA_REDIS_URL or [redis] url in motia.toml at yours")


def redact(url: str) -> str:
    """``url`` without its password, fit for a log line or an error message."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def connect(url: str, max_connections: int = MAX_CONNECTIONS) -> redis.asyncio.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``) that owns its pool."""
    import redis.asyncio

    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=POOL_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S)
    return redis.asyncio.Redis.from_pool(pool)


def unreachable(what: str, url: str, exc: BaseException) -> str:
    """The message for a store whose server failed: which store, which server, what to do."""
    import redis.exceptions

    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return f"cannot reach Redis at {redact(url)} for the {what}: {exc}; is redis-server " \
               f"running? {START_HINT}"
    return f"Redis at {redact(url)} failed for the {what}: {type(exc).__name__}: {exc}"


@asynccontextmanager
async def mapped_errors(what: str, url: str, error: type[Exception]) -> AsyncIterator[None]:
    """Turn the client's exceptions into the store's own ``error`` class, naming the server."""
    import redis.exceptions

    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise error(unreachable(what, url, exc)) from exc
    except OSError as exc:  # e.g. a unix socket path that does not exist
        raise error(unreachable(what, url, redis.exceptions.ConnectionError(str(exc)))) from exc


async def ping(url: str, what: str = "connection check") -> str:
    """The server's version if ``url`` answers; raises ``ConnectionError`` naming the URL and
    ``what`` needed it."""
    try:
        client = connect(url)
    except ValueError as exc:  # a URL redis-py cannot parse
        raise ConnectionError(f"{redact(url)} is not a Redis URL ({exc}); use e.g. "
                              "redis://127.0.0.1:6379/0") from exc
    try:
        async with mapped_errors(what, url, ConnectionError):
            await client.ping()
            info = await client.info("server")
        return str(info.get("redis_version", "unknown"))
    finally:
        await client.aclose()


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` on the server at ``url``, in batches (a blocking call,
    for what owns a prefix for a while: a test, a benchmark run); returns how many."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
    finally:
        client.close()
    return deleted
