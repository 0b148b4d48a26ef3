"""Where traces and logs are kept: one interface (``base.py``); memory, SQLite, Redis backends."""

from __future__ import annotations

from pathlib import Path

from motia_core.observability.store.base import (
    DEFAULT_MAX_LOGS,
    DEFAULT_MAX_TRACES,
    DEFAULT_RETENTION_HOURS,
    InvalidCursor,
    LogEntry,
    LogQuery,
    ObservabilityBackend,
    Page,
    Retention,
    TraceQuery,
    TraceSummary,
    summarize,
)
from motia_core.observability.store.memory import DiscardBackend, MemoryBackend
from motia_core.observability.store.sqlite import FILE_NAME, ObservabilityStoreError, SqliteBackend

__all__ = (
    "BACKEND_KINDS",
    "DEFAULT_MAX_LOGS",
    "DEFAULT_MAX_TRACES",
    "DEFAULT_RETENTION_HOURS",
    "DiscardBackend",
    "InvalidCursor",
    "LogEntry",
    "LogQuery",
    "MemoryBackend",
    "ObservabilityBackend",
    "ObservabilityStoreError",
    "Page",
    "Retention",
    "SqliteBackend",
    "TraceQuery",
    "TraceSummary",
    "open_backend",
    "summarize",
)

BACKEND_KINDS = ("sqlite", "memory", "redis", "off")


def open_backend(kind: str, motia_dir: Path, *, redis_url: str | None = None,
                 redis_prefix: str = "motia:") -> ObservabilityBackend:
    """The backend of ``kind`` for the project's ``.motia/`` (nothing touched until first use);
    "redis" keeps traces and logs under ``redis_prefix`` on ``redis_url``, shared by every
    instance using that server."""
    name = kind.strip().lower()
    if name == "redis":
        if not redis_url:
            raise ValueError("observability store 'redis' needs the server's URL: pass "
                             "--redis-url, set MOTIA_REDIS_URL or [redis] url")
        from motia_core.observability.store.redis import RedisBackend  # redis-py only when asked

        return RedisBackend(redis_url, prefix=redis_prefix)
    if name == "sqlite":
        return SqliteBackend(Path(motia_dir) / FILE_NAME)
    if name == "memory":
        return MemoryBackend()
    if name == "off":
        return DiscardBackend()
    raise ValueError(f"unknown observability store {kind!r} (setting `observability` in "
                     f"motia.toml or MOTIA_OBSERVABILITY); use one of {', '.join(BACKEND_KINDS)}")
