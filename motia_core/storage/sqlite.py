"""What the SQLite stores (state, event queue) share: a connection driven from the event loop.

``Database`` runs a store's calls inline on the event loop's thread. In WAL mode with
``synchronous=NORMAL`` a commit is a ``write()`` to the WAL without an fsync: tens of
microseconds, several times less than a hop to a worker thread and back, which also costs two
context switches on a busy machine (without them the event pipeline ran 2.2x the events/s at
1 in flight and 3.2x at 32). ``run`` does not even yield to other tasks when its call completes
inline (it is a cancellation point, like a socket send that does not block). What may block is
sent to a thread instead:

- opening and migrating the file (the first call);
- WAL checkpoints (they fsync): automatic checkpoints are off on the loop's connection; every
  ``CHECKPOINT_EVERY`` calls, or sooner once the WAL file is past ``WAL_SIZE_LIMIT`` (looked at
  every ``WAL_CHECK_EVERY`` calls: a store writing large batches, the trace and log store, makes
  few calls), a thread of its own checkpoints on a second connection, while the calls go on. A
  PASSIVE checkpoint never shrinks the WAL, and under steady writes one always lands while it
  runs, so SQLite never starts the WAL over: the file grew without end (gigabytes in an hour's
  soak, and its -shm index, mapped into the process, grew the core's RSS about 1 KB a request).
  So a checkpoint that leaves the WAL past ``WAL_SIZE_LIMIT`` follows with a TRUNCATE one, which
  holds writes back (they wait as for another process's lock, below) only while it copies what
  the PASSIVE one left, and gives up after ``TRUNCATE_WAIT_MS``;
- every call when ``full_sync`` (each commit fsyncs), and closing;
- reads that may walk many rows (``scan``: queue counts, listings), on a second, read-only
  connection, so the loop's own calls go on beside them (WAL lets readers and a writer overlap).

Group commit: the calls that run on the loop in one turn of it share one transaction. The first
opens it (``BEGIN IMMEDIATE``), the next turn of the loop commits it (a callback scheduled
with ``call_soon``), and ``run`` returns only once that commit is done, so a write whose call
has returned is committed, as before; 32 deliveries in flight then pay for one commit instead of
32 (a commit costs several times a small statement). ``run(..., confirm=False)`` returns without
waiting for the commit, for writes whose loss in a crash loses nothing (a lease, an ack: the
message is delivered again); ``read`` runs a read inside the open transaction, if any, without
opening one. ``scan`` and ``aclose`` commit the open transaction first. While it is open this
connection holds the file's write lock, as a single call did before, for one turn of the loop.

Another process's write lock (`motia start --processes N` on one file): on the loop the
connection's busy timeout is 0, so the ``BEGIN IMMEDIATE`` that opens a transaction is refused at
once; the call then waits on the loop, trying again after ``LOCK_RETRY_FIRST_S``, doubling to
``LOCK_RETRY_MAX_S``, for at most ``BUSY_TIMEOUT_S``. The calls that come meanwhile wait behind
it, in order, and once it has the lock they all run in its transaction, committed together. So a
contended process writes in larger batches rather than more of them. (Before, the call and every
call after it went to the worker thread, one transaction each, waiting in SQLite's busy handler,
which sleeps 1, 2, 5, 10 ms...: once two processes contended, every call of both took a thread
hop and a commit of its own, and a process stayed in the thread for good. Two processes on one
file ran 1.0-1.3x one, each spending twice the CPU per event.)

Each store names itself (``name``: "state", "event queue") and its error class, so a message a
user sees still says which file of which store failed and what to do about it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

__all__ = ("BUSY_TIMEOUT_S", "CHECKPOINT_EVERY", "Database", "write_transaction")

log = logging.getLogger("motia.sqlite")
T = TypeVar("T")

# How long a call waits for another process's write lock before failing.
BUSY_TIMEOUT_S = 5.0
# While another process holds the write lock, the loop tries again after FIRST, doubling to MAX.
LOCK_RETRY_FIRST_S = 0.0005
# Opening a file another process is setting up: the first and the longest wait between tries.
OPEN_RETRY_FIRST_S = 0.001
OPEN_RETRY_MAX_S = 0.05
LOCK_RETRY_MAX_S = 0.002
# Calls on the loop between two checkpoints of the WAL (SQLite's own default is 1,000 pages).
CHECKPOINT_EVERY = 1000
# After a checkpoint the WAL file is cut back to this size when it is next reused; past it a
# checkpoint comes early and ends by truncating the file (see the module docstring).
WAL_SIZE_LIMIT = 16 * 2**20
# Calls on the loop between two looks at the WAL file's size (one stat each).
WAL_CHECK_EVERY = 32
# How long the truncating checkpoint waits for a writer or a reader before giving up until the
# next checkpoint.
TRUNCATE_WAIT_MS = 200
# SQLITE_BUSY and SQLITE_LOCKED: someone else holds the lock (extended codes keep the low byte).
# Numbers, as the sqlite3 module names them only from Python 3.11.
_LOCKED_CODES = (5, 6)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock first so what it reads stays true; inside a
    transaction already open (``Database``'s group commit) a savepoint, so a failure undoes only
    this call's part."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT motia_call")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO motia_call")
            conn.execute("RELEASE motia_call")
            raise
        conn.execute("RELEASE motia_call")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _migrate(conn: sqlite3.Connection, path: Path, what: str,
             migrations: Sequence[Sequence[str]], error: type[Exception]) -> None:
    latest = len(migrations)
    version = _version(conn)
    if version > latest:
        raise error(
            f"the {what} {str(path)!r} has schema version {version}, written by a newer "
            f"motia-core (this one knows versions up to {latest}); upgrade motia-core, or point "
            "this project at another .motia directory"
        )
    while version < latest:
        with write_transaction(conn):  # another process may be migrating the same file
            version = _version(conn)
            if version < latest:
                for statement in migrations[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")


def open_database(path: Path, *, name: str, error: type[Exception], full_sync: bool,
                  migrations: Sequence[Sequence[str]], holds: str,
                  after: Callable[[sqlite3.Connection], None] | None = None,
                  ) -> sqlite3.Connection:
    """A connection in autocommit and WAL mode, its schema brought up to date.

    ``migrations[n]`` takes a file from version n to n + 1; ``holds`` says what deleting the
    file would lose; ``after`` runs once the schema is current (still inside the error mapping).
    """
    what = f"{name} store"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create the folder for the {what} {str(path)!r}: {exc}; check the "
                    "permissions of the project's .motia directory") from exc
    # isolation_level=None: autocommit, so a write is committed before its call returns.
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise error(f"cannot open the {what} {str(path)!r}: {exc}; is that path a folder, or "
                    "not writable?") from exc
    # Several processes opening a new file at once (`motia start --processes N`): switching it
    # to WAL, or a migration, can find another connection's lock where SQLite answers "locked"
    # at once instead of waiting out the busy timeout (so that two lock upgrades cannot
    # deadlock). Every step below is idempotent or its own transaction: try again, for as long.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = OPEN_RETRY_FIRST_S
    while True:  # bounded by the deadline
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if full_sync else 'NORMAL'}")
            _migrate(conn, path, what, migrations, error)
            if after is not None:
                after(conn)
            return conn
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc) and time.monotonic() < deadline:
                time.sleep(delay)  # open_database runs in a worker thread, never on the loop
                delay = min(delay * 2, OPEN_RETRY_MAX_S)
                continue
            conn.close()
            raise error(f"{str(path)!r} is not a usable motia {name} database ({exc}); move it "
                        f"away (or delete it, losing {holds}) and start again") from exc
        except BaseException:
            conn.close()
            raise


class _Batch:
    """The calls of one turn of the loop, committed together."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: sqlite3.Error | None = None


class Database:
    """One store's connection to its file, used from the event loop (see the module docstring).

    ``run(fn, *args)`` calls ``fn(connection, *args)``; ``fn`` must be one statement or one
    ``write_transaction``, because after finding the file locked it runs again, whole, in the
    worker thread. A ``sqlite3.Error`` becomes the store's ``error``, naming the store (``name``),
    the file and what moving the file away would lose (``holds``); ``closed`` makes the error
    for a call after ``aclose``.
    """

    def __init__(self, path: Path, *, name: str, error: type[Exception],
                 closed: Callable[[], Exception], full_sync: bool,
                 migrations: Sequence[Sequence[str]], holds: str,
                 after: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self.path = path
        self.inline = not full_sync  # with full_sync every commit fsyncs: never on the loop
        self._name = name
        self._error = error
        self._closed_error = closed
        self._migrations = migrations
        self._holds = holds
        self._after = after
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._limiter = anyio.CapacityLimiter(1)  # the worker thread's turn on the connection
        self._in_worker = 0  # calls waiting for or running in the worker thread
        self._calls = 0  # on the loop since the last checkpoint
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpointing = False
        self._checkpointer_lock = threading.Lock()  # a checkpoint under way, or closing
        self._reader: sqlite3.Connection | None = None
        self._reader_limiter = anyio.CapacityLimiter(1)  # one scan at a time on the reader
        self._batch: _Batch | None = None  # the transaction open on the loop (group commit)
        self._opening: anyio.Event | None = None  # set once a call waiting for the lock has it

    async def run(self, fn: Callable[..., T], *args: Any, confirm: bool = True) -> T:
        """``fn(connection, *args)``; returns once what it wrote is committed, or at once with
        ``confirm=False`` (committed at the next turn of the loop, or lost if the process dies
        first: only for writes whose loss loses nothing)."""
        if self._closed:
            raise self._closed_error()
        await anyio.lowlevel.checkpoint_if_cancelled()  # a cancellation point; no turn taken
        if not self.inline or self._conn is None or self._in_worker:
            return await self._in_thread(fn, args)
        batch = self._batch or await self._begin()
        conn = self._conn
        if conn is None:  # closed while it waited for the lock
            raise self._closed_error()
        try:
            result = fn(conn, *args)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        self._calls += 1
        if not self._checkpointing and (
                self._calls >= CHECKPOINT_EVERY
                or (self._calls % WAL_CHECK_EVERY == 0 and self._wal_bytes() > WAL_SIZE_LIMIT)):
            self._checkpoint()
        if confirm:
            await batch.done.wait()
            if batch.error is not None:
                raise self._failed(batch.error)
        return result

    async def _begin(self) -> _Batch:
        """Open the loop's transaction (the write lock); while another process holds the lock,
        wait for it on the loop, and the calls that come meanwhile wait behind, in order, and
        then share the transaction (see the module docstring)."""
        while self._opening is not None:  # another call is waiting for the lock: after it
            await self._opening.wait()
        if self._batch is not None:
            return self._batch
        conn = self._conn
        if conn is None:
            raise self._closed_error()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if not _is_locked(exc):
                raise self._failed(exc) from exc
            opening = self._opening = anyio.Event()
            try:
                await self._wait_for_lock()
            finally:
                self._opening = None
                opening.set()  # those waiting run before the commit scheduled below
        batch = self._batch = _Batch()
        asyncio.get_running_loop().call_soon(self._commit, batch)
        return batch

    async def _wait_for_lock(self) -> None:
        """``BEGIN IMMEDIATE`` again every few milliseconds until it takes the lock, for at most
        ``BUSY_TIMEOUT_S``."""
        deadline = anyio.current_time() + BUSY_TIMEOUT_S
        delay = LOCK_RETRY_FIRST_S
        while True:  # bounded by the deadline
            await anyio.sleep(delay)
            conn = self._conn
            if conn is None or self._closed:
                raise self._closed_error()
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.Error as exc:
                if not _is_locked(exc) or anyio.current_time() >= deadline:
                    raise self._failed(exc) from exc
            delay = min(delay * 2, LOCK_RETRY_MAX_S)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` for a read: inside the loop's open transaction if there is
        one (it sees this store's own writes), else on its own; it opens none."""
        if self._closed:
            raise self._closed_error()
        conn = self._conn
        if self.inline and conn is not None and not self._in_worker:
            await anyio.lowlevel.checkpoint_if_cancelled()
            try:
                return fn(conn, *args)
            except sqlite3.Error as exc:
                if self._batch is not None or not _is_locked(exc):
                    raise self._failed(exc) from exc
        return await self.run(fn, *args)

    def _commit(self, batch: _Batch) -> None:
        """End the loop's transaction (a ``call_soon`` callback: the turn after it opened)."""
        if self._batch is not batch:
            return  # committed already (scan, aclose)
        self._batch = None
        conn = self._conn
        try:
            if conn is not None and conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            batch.error = exc
            try:
                if conn is not None and conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            log.error("the %s store %r: a commit failed: %s", self._name, str(self.path), exc,
                      extra={"action": "sqlite_commit_failed"})
        finally:
            batch.done.set()

    def commit_now(self) -> None:
        """Commit the loop's open transaction now (before a read on another connection)."""
        if self._batch is not None:
            self._commit(self._batch)

    async def _in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self.commit_now()
        self._in_worker += 1
        try:
            return await anyio.to_thread.run_sync(self._call_waiting, fn, args,
                                                  limiter=self._limiter)
        finally:
            self._in_worker -= 1

    async def scan(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(reader, *args)`` in a worker thread, on a read-only connection of its own: for
        reads whose cost grows with the data (a queue's counts, a listing), which would otherwise
        hold up the loop. It sees every write that ``run`` has returned from."""
        if self._conn is None:
            await self.run(_nothing)  # the file is created and migrated by the main connection
        if self._closed:
            raise self._closed_error()
        self.commit_now()  # the reader sees every write whose call has returned
        return await anyio.to_thread.run_sync(self._scan_in_thread, fn, args,
                                              limiter=self._reader_limiter)

    async def aclose(self) -> None:
        if self._closed:
            return
        self.commit_now()
        self._closed = True  # calls queued behind us now fail with the store's "closed" error
        with anyio.CancelScope(shield=True):  # the connections must be closed even if cancelled
            async with self._reader_limiter:  # no scan is using the reader
                await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file, in a thread nobody waits for (a PASSIVE
        checkpoint on a second connection neither waits for nor blocks the loop's calls)."""
        self._calls = 0
        self._checkpointing = True
        threading.Thread(target=self._checkpoint_in_thread, name=f"motia {self._name} checkpoint",
                         daemon=True).start()

    def _wal_bytes(self) -> int:
        try:
            return os.stat(f"{self.path}-wal").st_size
        except OSError:
            return 0

    # --- worker-thread side --------------------------------------------------------------------

    def _call_waiting(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._closed:
            raise self._closed_error()
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        if self.inline:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        try:
            return fn(conn, *args)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        finally:
            if self.inline:
                conn.execute("PRAGMA busy_timeout = 0")

    def _scan_in_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._closed:
            raise self._closed_error()
        try:
            if self._reader is None:
                self._reader = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro",
                                               uri=True, timeout=BUSY_TIMEOUT_S,
                                               isolation_level=None, check_same_thread=False)
            return fn(self._reader, *args)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    def _connect(self) -> sqlite3.Connection:
        conn = open_database(self.path, name=self._name, error=self._error,
                             full_sync=not self.inline, migrations=self._migrations,
                             holds=self._holds, after=self._after)
        if self.inline:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            conn.execute("PRAGMA busy_timeout = 0")
        return conn

    def _checkpoint_in_thread(self) -> None:
        try:
            with self._checkpointer_lock:  # _close waits for a checkpoint under way
                if not self._closed:
                    self._checkpoint_now()
        finally:
            self._checkpointing = False

    def _checkpoint_now(self) -> None:
        try:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
                                                     isolation_level=None,
                                                     check_same_thread=False)
            checkpointer = self._checkpointer
            checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            if self._wal_bytes() > WAL_SIZE_LIMIT:
                # Writes went on meanwhile: copy what is left and start the WAL over, waiting
                # for a writer or a reader only briefly (busy: the next checkpoint tries again).
                checkpointer.execute(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
                try:
                    checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                finally:
                    checkpointer.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:  # the next one tries again; the WAL only grows meanwhile
            log.warning("the %s store %r: a WAL checkpoint failed: %s", self._name,
                        str(self.path), exc, extra={"action": "sqlite_checkpoint"})

    def _close(self) -> None:
        with self._checkpointer_lock:
            for conn in (self._reader, self._checkpointer, self._conn):
                if conn is not None:
                    conn.close()
            self._reader = self._checkpointer = self._conn = None

    def _failed(self, exc: sqlite3.Error) -> Exception:
        return self._error(
            f"the {self._name} store {str(self.path)!r} failed: {exc}. If another process holds "
            f"it locked, it waited {BUSY_TIMEOUT_S:g} s; if the file is damaged, move it away "
            f"(losing {self._holds})"
        )


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _is_locked(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _LOCKED_CODES
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
