"""Dead letters, made visible and fixable: what ``motia dlq`` and the internal HTTP API call.

Plain async functions over a ``QueueAdapter``, returning plain dicts (camelCase, JSON-ready), so
the CLI prints them as a table or as ``--json`` and the HTTP handlers send them as they are. The
two front ends only parse arguments and map ``DeadLetterNotFound`` to "not found" (exit code 1,
HTTP 404).

A dead letter is addressed by its subscriber queue (``<topic>.<step>``) and its id; the queue may
be left out (None) when the id is enough, which it is (ids are random and unique).

    rows = await dlq.list_dead_letters(queue, None)  # every queue's, oldest first per queue
    await dlq.replay(queue, None, rows[0]["id"])      # attempt 1 again, under the original trace
"""

from __future__ import annotations

import datetime
from typing import Any

from motia_core.events.base import DeadLetter, QueueAdapter

__all__ = (
    "DeadLetterNotFound",
    "list_dead_letters",
    "purge",
    "replay",
    "show",
)


class DeadLetterNotFound(LookupError):
    """No dead letter has that id (in that queue); the message says where we looked."""


async def list_dead_letters(adapter: QueueAdapter, queue: str | None = None,
                            ) -> list[dict[str, Any]]:
    """The dead letters of ``queue`` (or of every queue, by queue name), oldest first, each as a
    summary: id, queue, topic, step, attempts, error ``{name, message}``, traceId, failedAt."""
    queues = [queue] if queue is not None else await adapter.dead_letter_queues()
    return [_summary(letter) for name in queues for letter in await adapter.dead_letters(name)]


async def show(adapter: QueueAdapter, queue: str | None, message_id: str) -> dict[str, Any]:
    """One dead letter in full: the summary plus the event's data, flows and group, and the
    error's stack. Raises ``DeadLetterNotFound``."""
    letter = await _find(adapter, queue, message_id)
    row = _summary(letter)
    row["error"] = {"name": letter.error.name, "message": letter.error.message,
                    "stack": letter.error.stack}
    row.update(data=letter.event.data, flows=letter.event.flows, groupId=letter.group_id,
               parentSpanId=letter.event.parent_span_id,
               emittedAt=_iso(letter.event.emitted_at_ms))
    return row


async def replay(adapter: QueueAdapter, queue: str | None, message_id: str) -> dict[str, Any]:
    """Put a dead letter back in its queue: delivered again from attempt 1, with the same event
    (same trace id) and in the same FIFO group. Raises ``DeadLetterNotFound``."""
    letter = await _find(adapter, queue, message_id)
    if not await adapter.replay_dead_letter(letter.queue, letter.id):
        # Someone else (another `motia dlq replay`, a purge) took it between the two calls.
        raise DeadLetterNotFound(f"dead letter {message_id!r} in {letter.queue!r} was replayed "
                                 "or purged meanwhile; run `motia dlq list` to see what is left")
    return {**_summary(letter), "replayed": True}


async def purge(adapter: QueueAdapter, queue: str | None) -> dict[str, Any]:
    """Delete the dead letters of ``queue`` (None: of every queue). Returns
    ``{"purged": total, "queues": {queue: count}}``; purging an empty queue is not an error."""
    queues = [queue] if queue is not None else await adapter.dead_letter_queues()
    counts = {name: await adapter.purge_dead_letters(name) for name in queues}
    return {"purged": sum(counts.values()), "queues": counts}


async def _find(adapter: QueueAdapter, queue: str | None, message_id: str) -> DeadLetter:
    queues = [queue] if queue is not None else await adapter.dead_letter_queues()
    for name in queues:
        for letter in await adapter.dead_letters(name):
            if letter.id == message_id:
                return letter
    where = f"queue {queue!r}" if queue is not None else "any queue"
    raise DeadLetterNotFound(f"no dead letter {message_id!r} in {where}; run `motia dlq list` "
                             "for the ids (it may have been replayed or purged already)")


def _summary(letter: DeadLetter) -> dict[str, Any]:
    topic = letter.event.topic
    # The queue is "<topic>.<step>"; the topic may hold dots itself, the event knows it exactly.
    step = letter.queue[len(topic) + 1:] if letter.queue.startswith(topic + ".") else letter.queue
    return {
        "id": letter.id,
        "queue": letter.queue,
        "topic": topic,
        "step": step,
        "attempts": letter.attempts,
        "error": {"name": letter.error.name, "message": letter.error.message},
        "traceId": letter.event.trace_id,
        "eventId": letter.event.id,
        "failedAt": _iso(letter.failed_at_ms),
        "failedAtMs": letter.failed_at_ms,
    }


def _iso(ms: int) -> str:
    """UTC ISO 8601 with milliseconds, as JavaScript's ``toISOString`` writes it."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
