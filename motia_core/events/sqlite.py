"""Subscriber queues in a SQLite file under the project's ``.motia/``: the durable default.

Same semantics as ``MemoryQueue`` (the contract suite in tests/unit/test_queue.py runs on both),
plus what a file gives: an ``enqueue`` that has returned is committed (WAL), so it survives the
process being killed; ``enqueue_many`` writes every subscriber's copy in one transaction. A
message leased by a process that died comes back when its lease runs out, or at once when the
next ``SqliteQueue`` opens the file on the same host and sees that the lease holder is gone
(leases record ``<host>/<pid>/<process start>``): a restarted core does not wait out a 15-minute
visibility timeout.

Several processes may share one file: ``receive`` selects and leases in one ``BEGIN IMMEDIATE``
transaction, so two consumers never hold the same message. ``wait`` wakes at once on this
adapter's own writes, at the next delay or lease expiry, and when ``PRAGMA data_version`` (read
once per ``poll_interval_s`` for all waiters together) shows another connection's commit.

The connection is a ``_sqlite.Database``, as in ``state/sqlite.py``: calls run on the event
loop (a thread only when the file is locked by another process, or with ``full_sync``), the
schema is migrated on first use by ``PRAGMA user_version``.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import msgspec

from motia_core.events.base import (
    BatchQueueAdapter,
    DeadLetter,
    Enqueue,
    ErrorInfo,
    Event,
    QueueClosed,
    QueueCounts,
    QueueError,
    QueueMessage,
    QueueWakes,
    new_id,
    now_ms,
)
from motia_core.storage.sqlite import BUSY_TIMEOUT_S, Database, write_transaction

__all__ = ("BUSY_TIMEOUT_S", "POLL_INTERVAL_S", "SCHEMA_VERSION", "SqliteQueue")

log = logging.getLogger("motia.events")
T = TypeVar("T")

# How often ``wait`` looks for messages written by other processes (at most; it is jittered).
POLL_INTERVAL_S = 0.1

# _MIGRATIONS[n] takes a file from schema version n to n + 1, in one transaction. Append only.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # seq is the rowid: a new row gets max(seq) + 1, so it orders messages by enqueue time.
        # owner is "<host>/<pid>/<start>" of the lease holder, "" when not leased.
        "CREATE TABLE messages ("
        " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,"
        " group_id TEXT, event TEXT NOT NULL, attempt INTEGER NOT NULL,"
        " available_at_ms INTEGER NOT NULL, enqueued_at_ms INTEGER NOT NULL,"
        " receipt TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT '')",
        # receive walks a queue in seq order; no leased column is indexed, so leasing is cheap.
        "CREATE INDEX messages_by_queue ON messages (queue, seq)",
        "CREATE INDEX messages_by_group ON messages (queue, group_id, seq)"
        " WHERE group_id IS NOT NULL",
        "CREATE TABLE dead_letters ("
        " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,"
        " group_id TEXT, event TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL,"
        " failed_at_ms INTEGER NOT NULL)",
        "CREATE INDEX dead_letters_by_queue ON dead_letters (queue, seq)",
    ),
    (
        # receive walked (queue, seq) past every message not yet due: with 100k delayed ones,
        # 100k rows per receive, on the event loop. due = 1 marks a message whose
        # available_at_ms has passed once (set at enqueue, or by receive in bulk through
        # messages_waiting); a nack's new delay clears it. Receive walks only due messages, in
        # seq order: the visible ones and the leased ones (a lease keeps due = 1, so leasing
        # moves no index entry; in flight is few, delayed may be many). Each row is in one of
        # the two partial indexes.
        "ALTER TABLE messages ADD COLUMN due INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX messages_due ON messages (queue, seq) WHERE due = 1",
        "CREATE INDEX messages_waiting ON messages (queue, available_at_ms) WHERE due = 0",
        "DROP INDEX messages_by_queue",
    ),
    (
        # enqueue_once: a key taken until expires_at_ms (a cron tick of one step and time), so
        # processes sharing the file enqueue it once between them.
        "CREATE TABLE once_keys (key TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL)",
        "CREATE INDEX once_keys_by_expiry ON once_keys (expires_at_ms)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

# Visible: due, and either ungrouped or the oldest message of its group (?1 queue, ?2 now).
_HEAD = ("(m.group_id IS NULL OR NOT EXISTS (SELECT 1 FROM messages AS h"
         " WHERE h.queue = ?1 AND h.group_id = m.group_id AND h.seq < m.seq))")
_PROMOTE = "UPDATE messages SET due = 1 WHERE queue = ?1 AND due = 0 AND available_at_ms <= ?2"
_NEXT = ("SELECT seq, id, group_id, event, attempt, receipt, enqueued_at_ms FROM messages AS m"
         " WHERE m.queue = ?1 AND m.due = 1 AND m.available_at_ms <= ?2 AND " + _HEAD
         + " ORDER BY m.seq LIMIT 1")
# Read-only, so due or not yet marked so; each part an index range of its own.
_PEEK = ("SELECT EXISTS (SELECT 1 FROM messages AS m WHERE m.queue = ?1 AND m.due = 1"
         " AND m.available_at_ms <= ?2 AND " + _HEAD + ") OR EXISTS (SELECT 1 FROM messages AS m"
         " WHERE m.queue = ?1 AND m.due = 0 AND m.available_at_ms <= ?2 AND " + _HEAD + ")")
# When nothing is visible: the next delay or lease to run out (leases are on due messages).
_NEXT_AT = ("SELECT MIN(at) FROM (SELECT MIN(available_at_ms) AS at FROM messages"
            " WHERE queue = ?1 AND due = 0 AND available_at_ms > ?2 UNION ALL"
            " SELECT MIN(available_at_ms) FROM messages"
            " WHERE queue = ?1 AND due = 1 AND available_at_ms > ?2)")
_INSERT = (
    "INSERT INTO messages (id, queue, group_id, event, attempt, available_at_ms, enqueued_at_ms,"
    " due) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?5 <= ?6)"
)
# A message leased as it is added (enqueue_leased): due, its lease running out at ?5.
_INSERT_LEASED = (
    "INSERT INTO messages (id, queue, group_id, event, attempt, available_at_ms, enqueued_at_ms,"
    " due, receipt, owner) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, 1, ?7, ?8)"
)
_LEASE = ("UPDATE messages SET attempt = ?, receipt = ?, available_at_ms = ?, owner = ?"
          " WHERE seq = ?")
_LEASED = " WHERE queue = ? AND id = ? AND receipt = ?"
_ACK = "DELETE FROM messages" + _LEASED
_NACK = ("UPDATE messages SET attempt = attempt + 1, receipt = '', owner = '', due = 0,"
         " available_at_ms = ?" + _LEASED)
_RELEASE = "UPDATE messages SET receipt = '', owner = '', available_at_ms = ?" + _LEASED
_TAKE = "SELECT seq, group_id, event, attempt FROM messages" + _LEASED
_DELETE = "DELETE FROM messages WHERE seq = ?"
_BURY = (
    "INSERT INTO dead_letters (id, queue, group_id, event, attempts, error, failed_at_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LETTERS = ("SELECT id, group_id, event, attempts, error, failed_at_ms FROM dead_letters"
            " WHERE queue = ? ORDER BY seq")
_LETTER = "SELECT group_id, event FROM dead_letters WHERE queue = ? AND id = ?"
_UNBURY = "DELETE FROM dead_letters WHERE queue = ? AND id = ?"
_PURGE = "DELETE FROM dead_letters WHERE queue = ?"
_LETTER_QUEUES = "SELECT DISTINCT queue FROM dead_letters ORDER BY queue"
_COUNTS = (
    "SELECT COALESCE(SUM(available_at_ms <= ?1), 0),"
    " COALESCE(SUM(available_at_ms > ?1 AND receipt != ''), 0),"
    " COALESCE(SUM(available_at_ms > ?1 AND receipt = ''), 0),"
    " (SELECT COUNT(*) FROM dead_letters WHERE queue = ?2)"
    " FROM messages WHERE queue = ?2"
)
_HELD = ("SELECT DISTINCT owner FROM messages"
         " WHERE receipt != '' AND owner != '' AND available_at_ms > ?")
_RECLAIM = ("UPDATE messages SET available_at_ms = ?1"
            " WHERE owner = ?2 AND receipt != '' AND available_at_ms > ?1")

_event_decoder = msgspec.json.Decoder(Event)
_error_decoder = msgspec.json.Decoder(ErrorInfo)


class SqliteQueue(BatchQueueAdapter):
    """Subscriber queues in two tables of a SQLite file; the parent directory is created."""

    def __init__(self, path: str | os.PathLike[str], *, full_sync: bool = False,
                 poll_interval_s: float = POLL_INTERVAL_S,
                 clock_ms: Callable[[], int] = now_ms) -> None:
        self.path = Path(path)
        # synchronous=NORMAL survives a killed process; FULL also survives a power cut.
        self.full_sync = full_sync
        self.poll_interval_s = poll_interval_s
        self._clock_ms = clock_ms
        self._owner = _current_owner()
        self._db = Database(self.path, name="event queue", error=QueueError,
                            closed=self._closed_error, full_sync=full_sync,
                            migrations=_MIGRATIONS, holds="the events it holds",
                            after=self._opened)
        self._wakes = QueueWakes()
        # queue -> (its _changed event when an empty receive looked, the next due time found)
        self._looked: dict[str, tuple[anyio.Event, int | None]] = {}
        # _look_elsewhere: when it last looked, and the file's data_version it saw then.
        self._looked_at = -math.inf
        self._seen_version: int | None = None

    def __repr__(self) -> str:
        return f"SqliteQueue({str(self.path)!r})"

    async def open(self) -> None:
        """Create or migrate the file and reclaim dead processes' leases now, not on first use."""
        await self._run(lambda conn: None)

    # --- QueueAdapter ------------------------------------------------------------------------

    async def _enqueue(self, items: Sequence[Enqueue], lease_s: Sequence[float | None],
                       ) -> tuple[list[str], list[QueueMessage | None]]:
        """Write ``items`` in one transaction, those with a lease already leased; their ids, and
        the leased ones as received messages (None for the others)."""
        if not items:
            return [], []
        now = self._clock_ms()
        rows: list[tuple[Any, ...]] = []
        leased_rows: list[tuple[Any, ...]] = []
        ids: list[str] = []
        out: list[QueueMessage | None] = []
        for item, lease in zip(items, lease_s, strict=True):
            message_id = new_id()
            ids.append(message_id)
            data = msgspec.json.encode(item.event).decode()
            if lease is None:
                rows.append((message_id, item.queue, item.group_id, data,
                             now + _ms(item.delay_s), now))
                out.append(None)
                continue
            message = QueueMessage(id=message_id, queue=item.queue, event=item.event, attempt=1,
                                   available_at_ms=now + _ms(lease), receipt=new_id(),
                                   group_id=item.group_id, enqueued_at_ms=now)
            leased_rows.append((message_id, item.queue, item.group_id, data,
                                message.available_at_ms, now, message.receipt, self._owner))
            out.append(message)
        await self._run(self._insert, rows, leased_rows)
        for queue in {row[1] for row in rows}:  # a leased one wakes nobody: it is taken
            self._wakes.set(queue)
        return ids, out

    async def enqueue_once(self, key: str, ttl_s: float, queue: str, event: Event, *,
                           group_id: str | None = None) -> str | None:
        now = self._clock_ms()
        row = (new_id(), queue, group_id, msgspec.json.encode(event).decode(), now, now)
        taken = await self._run(self._insert_once, key, now + max(1, _ms(ttl_s)), row)
        if not taken:
            return None
        self._wakes.set(queue)
        return row[0]

    async def receive(self, queue: str, visibility_timeout_s: float) -> QueueMessage | None:
        # Taken before looking: if nothing is visible, ``wait`` trusts this look (and the next
        # due time found with it) as long as no write here has set the event since.
        messages = await self.receive_many(queue, visibility_timeout_s, 1)
        return messages[0] if messages else None

    async def receive_many(self, queue: str, visibility_timeout_s: float,
                           max_messages: int) -> list[QueueMessage]:
        # Taken before looking: if nothing is visible, ``wait`` trusts this look (and the next
        # due time found with it) as long as no write here has set the event since.
        changed = self._wakes.event(queue)
        # Not waiting for the commit: a lease lost in a crash leaves the message visible, and
        # no other process can lease it before the commit (this connection holds the lock).
        messages, next_at_ms = await self._db.run(self._receive, queue, self._clock_ms(),
                                                  _ms(visibility_timeout_s), max(1, max_messages),
                                                  confirm=False)
        if not messages:
            self._looked[queue] = (changed, next_at_ms)
        return messages

    async def ack(self, message: QueueMessage) -> bool:
        # Only a FIFO group's next message can become visible when one is acked.
        return await self._settle(_ACK, message, wakes=message.group_id is not None)

    async def nack(self, message: QueueMessage, delay_s: float = 0.0) -> bool:
        return await self._settle(_NACK, message, self._clock_ms() + _ms(delay_s))

    async def release(self, message: QueueMessage) -> bool:
        return await self._settle(_RELEASE, message, self._clock_ms())

    async def dead_letter(self, message: QueueMessage, error: ErrorInfo) -> DeadLetter | None:
        if not message.receipt:
            return None
        letter = await self._db.run(self._bury, message, error, self._clock_ms(), confirm=False)
        if letter is not None:
            self._wakes.set(message.queue)
        return letter

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        rows = await self._db.scan(self._fetch, _LETTERS, (queue,))
        return [DeadLetter(id=id_, queue=queue, event=_stored_event(event),
                           attempts=attempts, error=_error_decoder.decode(error),
                           failed_at_ms=failed_at_ms, group_id=group_id)
                for id_, group_id, event, attempts, error, failed_at_ms in rows]

    async def dead_letter_queues(self) -> list[str]:
        return [queue for (queue,) in await self._db.scan(self._fetch, _LETTER_QUEUES, ())]

    async def replay_dead_letter(self, queue: str, message_id: str) -> bool:
        replayed = await self._run(self._unbury, queue, message_id, self._clock_ms())
        if replayed:
            self._wakes.set(queue)
        return replayed

    async def purge_dead_letters(self, queue: str) -> int:
        return await self._run(self._count_changes, _PURGE, (queue,))

    async def counts(self, queue: str) -> QueueCounts:
        rows = await self._db.scan(self._fetch, _COUNTS, (self._clock_ms(), queue))
        ready, in_flight, delayed, dead = rows[0]
        return QueueCounts(ready=ready, delayed=delayed, in_flight=in_flight, dead_letters=dead)

    async def wait(self, queue: str, timeout_s: float) -> None:
        deadline = anyio.current_time() + max(0.0, timeout_s)
        while True:
            # Taken before looking, so a write between the look and the wait still wakes us.
            changed = self._wakes.event(queue)
            looked = self._looked.pop(queue, None)
            if looked is not None and looked[0] is changed:
                # An empty receive looked after taking this event, which no write here has set
                # since: what it found still holds (other processes' writes: polled below).
                visible, next_at_ms = False, looked[1]
            else:
                visible, next_at_ms = await self._db.read(self._peek, queue, self._clock_ms())
            if visible or deadline <= anyio.current_time():
                await anyio.lowlevel.checkpoint()  # a caller looping on wait() still yields
                return
            # Asleep until a write here or by another connection (then return: the caller's
            # receive looks), or until the next delay or lease runs out (then look again).
            while not changed.is_set():
                remaining_s = deadline - anyio.current_time()
                due_s = math.inf if next_at_ms is None else (next_at_ms - self._clock_ms()) / 1000
                if remaining_s <= 0 or due_s <= 0:
                    break
                # Jittered, so pollers (other tasks, other processes) do not fall into step.
                poll_s = self.poll_interval_s * (0.5 + random.random() / 2)
                with anyio.move_on_after(min(remaining_s, due_s, poll_s)):
                    await changed.wait()
                if not changed.is_set():
                    await self._look_elsewhere()
            if changed.is_set():
                return

    async def _look_elsewhere(self) -> None:
        """Wake every waiter if another connection committed since the last look.

        One ``PRAGMA data_version`` per poll interval for the whole adapter, however many
        queues are waited on: an idle core with many subscriptions costs next to nothing.
        """
        if anyio.current_time() - self._looked_at < self.poll_interval_s / 2:
            return  # another waiter looked a moment ago
        self._looked_at = anyio.current_time()
        [(version,)] = await self._db.read(self._fetch, "PRAGMA data_version", ())
        if version != self._seen_version:
            self._seen_version = version
            self._wakes.set_all()

    async def aclose(self) -> None:
        self._wakes.set_all()  # waiters look once more, and fail with QueueClosed
        await self._db.aclose()  # calls queued behind us now fail with QueueClosed

    # --- event-loop side ---------------------------------------------------------------------

    async def _settle(self, sql: str, message: QueueMessage, *first: int,
                      wakes: bool = True) -> bool:
        """Finish or hand back a delivery, only while ``message`` holds the current lease."""
        if not message.receipt:
            return False
        # Not waiting for the commit: an outcome lost in a crash only means one more delivery
        # (at least once), as when the process dies just before settling.
        done = await self._db.run(self._count_changes, sql,
                                  (*first, message.queue, message.id, message.receipt),
                                  confirm=False) > 0
        if done and wakes:
            self._wakes.set(message.queue)
        return done

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.run(fn, *args)

    # --- on the connection (one call at a time; see _sqlite.Database) --------------------------

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                leased_rows: list[tuple[Any, ...]]) -> None:
        if len(rows) + len(leased_rows) == 1:
            # One row (an event with one subscriber): one statement, all or nothing by itself,
            # so no savepoint (two statements more) in the loop's transaction.
            conn.execute(*((_INSERT, rows[0]) if rows else (_INSERT_LEASED, leased_rows[0])))
            return
        with write_transaction(conn):
            if rows:
                conn.executemany(_INSERT, rows)
            if leased_rows:
                conn.executemany(_INSERT_LEASED, leased_rows)

    def _insert_once(self, conn: sqlite3.Connection, key: str, expires_at_ms: int,
                     row: tuple[Any, ...]) -> bool:
        # One transaction: the key is taken and the message added together, or neither.
        with write_transaction(conn):
            conn.execute("DELETE FROM once_keys WHERE expires_at_ms <= ?", (row[5],))
            if conn.execute("INSERT OR IGNORE INTO once_keys (key, expires_at_ms)"
                            " VALUES (?, ?)", (key, expires_at_ms)).rowcount == 0:
                return False
            conn.execute(_INSERT, row)
        return True

    def _receive(self, conn: sqlite3.Connection, queue: str, now: int, visibility_ms: int,
                 count: int) -> tuple[list[QueueMessage], int | None]:
        """Up to ``count`` messages, leased; or none and when the next delay or lease runs
        out."""
        if conn.in_transaction:  # the loop's shared transaction: it holds the write lock
            return self._lease(conn, queue, now, visibility_ms, count)
        with write_transaction(conn):
            return self._lease(conn, queue, now, visibility_ms, count)

    def _lease(self, conn: sqlite3.Connection, queue: str, now: int, visibility_ms: int,
               count: int) -> tuple[list[QueueMessage], int | None]:
        # Partial work left by a failure is harmless: marking due messages due is idempotent.
        conn.execute(_PROMOTE, (queue, now))
        messages: list[QueueMessage] = []
        while len(messages) < count:
            message = self._lease_next(conn, queue, now, visibility_ms)
            if message is None:
                break
            messages.append(message)
        if messages:
            return messages, None
        [(next_at_ms,)] = conn.execute(_NEXT_AT, (queue, now)).fetchall()
        return messages, next_at_ms

    def _lease_next(self, conn: sqlite3.Connection, queue: str, now: int,
                    visibility_ms: int) -> QueueMessage | None:
        while True:
            row = conn.execute(_NEXT, (queue, now)).fetchone()
            if row is None:
                return None
            seq, message_id, group_id, event, attempt, old_receipt, enqueued_at_ms = row
            if old_receipt:  # the previous lease ran out: that delivery counts as an attempt
                attempt += 1
            # Decoded before it is leased: one that cannot be would come back at every
            # lease expiry, never delivered, and hold its FIFO group behind it.
            try:
                decoded = _event_decoder.decode(event)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
                with write_transaction(conn):  # a savepoint: both statements or neither
                    self._bury_undecodable(conn, queue, row, attempt, exc, now)
                continue
            receipt = new_id()
            conn.execute(_LEASE, (attempt, receipt, now + visibility_ms, self._owner, seq))
            return QueueMessage(id=message_id, queue=queue, event=decoded, attempt=attempt,
                                available_at_ms=now + visibility_ms, receipt=receipt,
                                group_id=group_id, enqueued_at_ms=enqueued_at_ms)

    def _bury_undecodable(self, conn: sqlite3.Connection, queue: str, row: tuple[Any, ...],
                          attempt: int, exc: Exception, now: int) -> None:
        seq, message_id, group_id, event = row[:4]
        error = ErrorInfo(name="UndecodableEvent", message=(
            f"the stored event cannot be decoded ({exc}); it was written by another version of "
            f"motia-core or the file {str(self.path)!r} is damaged; fix it and replay it with "
            f"`motia dlq replay`, or purge it"))
        conn.execute(_DELETE, (seq,))
        conn.execute(_BURY, (message_id, queue, group_id, event, attempt,
                             msgspec.json.encode(error).decode(), now))
        log.error("%s: message %s of queue %r %s", self.path, message_id, queue, error.message,
                  extra={"action": "event_undecodable"})

    @staticmethod
    def _bury(conn: sqlite3.Connection, message: QueueMessage, error: ErrorInfo,
              now: int) -> DeadLetter | None:
        with write_transaction(conn):
            row = conn.execute(_TAKE, (message.queue, message.id, message.receipt)).fetchone()
            if row is None:
                return None
            seq, group_id, event, attempts = row
            conn.execute(_DELETE, (seq,))
            conn.execute(_BURY, (message.id, message.queue, group_id, event, attempts,
                                 msgspec.json.encode(error).decode(), now))
        return DeadLetter(id=message.id, queue=message.queue, event=_event_decoder.decode(event),
                          attempts=attempts, error=error, failed_at_ms=now, group_id=group_id)

    @staticmethod
    def _unbury(conn: sqlite3.Connection, queue: str, message_id: str, now: int) -> bool:
        with write_transaction(conn):
            row = conn.execute(_LETTER, (queue, message_id)).fetchone()
            if row is None:
                return False
            group_id, event = row
            conn.execute(_UNBURY, (queue, message_id))
            conn.execute(_INSERT, (new_id(), queue, group_id, event, now, now))
        return True

    @staticmethod
    def _peek(conn: sqlite3.Connection, queue: str, now: int) -> tuple[bool, int | None]:
        """Whether a message is visible, else when the next one may be (None: never)."""
        [(visible,)] = conn.execute(_PEEK, (queue, now)).fetchall()
        if visible:
            return True, None
        [(next_at_ms,)] = conn.execute(_NEXT_AT, (queue, now)).fetchall()
        return False, next_at_ms

    @staticmethod
    def _count_changes(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> int:
        return conn.execute(sql, args).rowcount

    @staticmethod
    def _fetch(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[Any]:
        return conn.execute(sql, args).fetchall()

    def _opened(self, conn: sqlite3.Connection) -> None:
        """Reclaim dead processes' leases; note the file's version, for _look_elsewhere."""
        self._reclaim(conn)
        [(self._seen_version,)] = conn.execute("PRAGMA data_version").fetchall()

    def _reclaim(self, conn: sqlite3.Connection) -> None:
        """Make the messages leased by processes that are gone visible again now."""
        now = self._clock_ms()
        with write_transaction(conn):
            held = [owner for (owner,) in conn.execute(_HELD, (now,)).fetchall()]
            for owner in held:
                if _owner_is_gone(owner, self._owner):
                    count = conn.execute(_RECLAIM, (now, owner)).rowcount
                    log.info("%s: %d message(s) leased by %s, which is gone, are delivered again",
                             self.path, count, owner, extra={"action": "event_reclaim"})

    def _closed_error(self) -> QueueClosed:
        return QueueClosed(
            f"the event queue store {str(self.path)!r} is closed; open a new SqliteQueue"
        )


def _stored_event(text: str) -> Event:
    """A dead letter's event; one that cannot be decoded (see ``_bury_undecodable``) is shown
    as the text it was stored as, so that listing the dead letters still works."""
    try:
        return _event_decoder.decode(text)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return Event(topic="", data=text, trace_id="")


def _ms(seconds: float) -> int:
    """Seconds to whole milliseconds, rounded up so a delay never ends early."""
    return max(0, math.ceil(seconds * 1000))


# --- lease owners: which process holds a lease, and whether it is still there --------------------


def _current_owner() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_ticks(pid)}"


def _start_ticks(pid: int) -> str:
    """When ``pid`` started (Linux ``/proc``), so a reused pid is not taken for its old owner;
    "" where there is no ``/proc`` (the pid alone is then trusted)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return fields[19].decode() if len(fields) > 19 else ""


def _owner_is_gone(owner: str, me: str) -> bool:
    """True only when the lease holder is surely dead; any doubt leaves it to the lease timeout.

    Another host's process cannot be checked (and SQLite files are not for sharing over a
    network): its leases always run their course.
    """
    try:
        host, pid_text, start = owner.rsplit("/", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if owner == me or pid <= 0 or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass  # alive, but someone else's (PermissionError)
    return bool(start) and _start_ticks(pid) != start
