"""Stream changes carried between the processes of one project through its SQLite stream file.

`motia start --processes N` runs N processes on the one ``.motia/streams`` file: a step in
process A changes an item, and the clients joined to it may be connected to process B.
``SqliteFanout`` is the SQLite twin of the Redis fan-out (streams/redis_fanout.py), with no
server to run:

- the stream file's ``SqliteState`` keeps a change log (``keep_changes``; state/sqlite.py): each
  item write appends its row in the write's own transaction, so the log holds what was committed,
  nothing else, in commit order (SQLite's one write lock orders every process's transactions, and
  the row ids with them), and a process killed after a write returned cannot take its change
  with it. Ephemeral events (``send``) store nothing; ``on_change`` keeps them for ``wait_sent``,
  which appends them before the ``send`` returns;
- ``run`` follows the log: every ``FOLLOW_S`` while this process has a subscriber (every
  ``IDLE_S`` otherwise, only to keep its place), it asks ``PRAGMA data_version`` whether another
  connection committed, a few microseconds on the loop's connection, and only then reads the rows
  after the last one it saw and hands the other processes' rows to ``listeners`` (the hub's
  ``on_change``) in log order: the changes of one item reach B's clients in the order A stored
  them. Its own rows it skips: its hub heard them from the store already, so no change reaches a
  subscriber twice.

Why a log table polled through ``data_version`` rather than something that pushes: SQLite tells
no other process of a commit (``update_hook`` sees only its own connection's), and a socket or
pipe between the processes would be a second channel that could disagree with what the file
committed (a change sent and then rolled back, or committed and not sent before a kill -9). The
log has one order, the file's, and costs one insert per change in a transaction already open.
The price is latency (up to ``FOLLOW_S``) and the log's rows; it keeps the last
``KEEP_CHANGES`` (state/sqlite.py), and a process more than that many changes behind misses the
older ones, with a warning (it sees the gap in the log's ids), and its clients re-sync when they
re-join, as with Redis.

A join's read and the follower's place are not one step: after its sync a client may be handed
other processes' changes made up to ``FOLLOW_S`` before the join (``IDLE_S`` when it is the
process's first subscriber), in order, ending with the latest. Usage (the app wires it when
streams are on SQLite):

    fanout = SqliteFanout(storage, active=lambda: hub.room_count > 0)  # before storage opens
    store.listeners.append(fanout.on_change)
    store.wait_sent.append(fanout.wait_sent)
    fanout.listeners.append(hub.on_change)
    await tg.start(fanout.run)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc

from motia_core.state import StateClosed, StateError
from motia_core.state.sqlite import SqliteState, StateChange
from motia_core.streams.store import StreamListener, split_group, storage_group

__all__ = ("FOLLOW_S", "IDLE_S", "SqliteFanout")

log = logging.getLogger("motia.streams")

# How often the log is looked at while this process has a subscriber, and otherwise.
FOLLOW_S = 0.01
IDLE_S = 0.25
# Rows read at once.
BATCH = 500
# Wait after the file failed (locked past its busy timeout, moved away) before looking again.
RETRY_S = 1.0


class SqliteFanout:
    """Appends this process's stream events to the log, and hands other processes' changes to
    ``listeners``."""

    def __init__(self, storage: SqliteState, *, active: Callable[[], bool] = lambda: True,
                 ) -> None:
        storage.keep_changes()
        assert storage.origin is not None
        self.storage = storage
        self.origin = storage.origin
        self.active = active
        self.listeners: list[StreamListener] = []
        self.last = 0  # the id of the last log row seen
        self.missed = 0  # changes pruned from the log before this process read them
        self._events: list[tuple[str, str | None, str, Any]] = []

    def __repr__(self) -> str:
        return f"SqliteFanout({str(self.storage.path)!r})"

    def on_change(self, stream: str, group: str, item_id: str | None, kind: str,
                  payload: Any) -> None:
        """A ``StreamStore`` listener: keep an ephemeral event for ``wait_sent`` (an item's
        change is in the log already, written with the item)."""
        if kind == "event":
            self._events.append((storage_group(stream, group), item_id, kind, payload))

    async def wait_sent(self) -> None:
        """Append the events kept so far to the log; a ``send`` returns after this."""
        if self._events:
            events, self._events = self._events, []
            await self.storage.log_changes(events)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Follow the log until cancelled (or the store is closed); started once its place is
        taken, so a change committed after ``tg.start(fanout.run)`` returns is heard."""
        try:
            self.last = await self.storage.last_change()
            version = await self.storage.data_version()
        except StateClosed:
            return
        task_status.started()
        while True:
            await anyio.sleep(FOLLOW_S if self.active() else IDLE_S)
            try:
                seen = await self.storage.data_version()
                if seen != version:
                    version = seen
                    await self.follow()
            except StateClosed:
                return  # the app is shutting down
            except StateError as exc:
                log.warning("%r: cannot read the stream change log (%s); trying again in "
                            "%.0f s", self, exc, RETRY_S,
                            extra={"action": "streams.fanout_failed"})
                await anyio.sleep(RETRY_S)

    async def follow(self) -> None:
        """Read the rows after the last one seen, handing other processes' to the listeners
        (when someone here listens: otherwise only the place moves on)."""
        while True:  # bounded: each turn moves past up to BATCH rows, and stops short of it
            rows = await self.storage.changes_after(self.last, BATCH)
            if rows:
                # Ids follow each other (AUTOINCREMENT; a failed insert may rarely skip one),
                # so a gap after ours is what pruning took before we read it.
                if rows[0].id > self.last + 1 and self.active():
                    self.missed += rows[0].id - self.last - 1
                    log.warning("%r: %d stream change(s) from other processes were pruned from "
                                "the log before this process read them (its subscribers re-sync "
                                "when they re-join)", self, rows[0].id - self.last - 1,
                                extra={"action": "streams.fanout_missed"})
                self.last = rows[-1].id
                if self.active():
                    for row in rows:
                        if row.origin != self.origin:
                            self._hand_on(row)
            if len(rows) < BATCH:
                return

    def _hand_on(self, row: StateChange) -> None:
        split = split_group(row.group)
        if split is None:
            return
        for listener in tuple(self.listeners):
            try:
                listener(*split, row.key, row.kind, row.value)
            except Exception:  # one listener's bug must not stop the others, or the follower
                log.exception("stream listener %r failed on a change from another process",
                              listener, extra={"action": "streams.listener_error"})
