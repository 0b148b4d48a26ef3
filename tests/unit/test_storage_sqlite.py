"""``motia_core.storage.sqlite.Database``: the SQLite stores' calls on the event loop, and what
is not.

Calls run inline on the loop's thread; opening, checkpoints, ``full_sync`` and closing go to a
worker thread. These tests hold the write lock from a second connection (as another process
would) and check that the loop keeps running while calls wait for it, that calls keep their order
and share a transaction once it is free, and that a lock held too long fails naming the file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from motia_core.storage import sqlite as _sqlite
from motia_core.storage.sqlite import Database, write_transaction

pytestmark = pytest.mark.anyio

MIGRATIONS = (("CREATE TABLE t (n INTEGER NOT NULL)",),)


class StoreError(Exception):
    pass


def database(path: Path, *, full_sync: bool = False) -> Database:
    return Database(path, name="test", error=StoreError,
                    closed=lambda: StoreError("closed"), full_sync=full_sync,
                    migrations=MIGRATIONS, holds="the test rows")


def insert(conn: sqlite3.Connection, n: int) -> None:
    with write_transaction(conn):
        conn.execute("INSERT INTO t (n) VALUES (?)", (n,))


def rows(conn: sqlite3.Connection) -> list[int]:
    return [n for (n,) in conn.execute("SELECT n FROM t ORDER BY rowid")]


def thread_id(conn: sqlite3.Connection) -> int:
    return threading.get_ident()


async def test_calls_run_on_the_loop_after_the_file_is_opened_in_a_thread(
        tmp_path: Path) -> None:
    db = database(tmp_path / "a.sqlite3")
    try:
        assert await db.run(thread_id) != threading.get_ident()  # opens and migrates
        assert await db.run(thread_id) == threading.get_ident()
        await db.run(insert, 1)
        assert await db.run(rows) == [1]
    finally:
        await db.aclose()


async def test_full_sync_keeps_every_call_off_the_loop(tmp_path: Path) -> None:
    db = database(tmp_path / "a.sqlite3", full_sync=True)
    try:
        await db.run(insert, 1)
        assert await db.run(thread_id) != threading.get_ident()
    finally:
        await db.aclose()


@asynccontextmanager
async def locked_elsewhere(path: Path, seconds: float,
                           release: threading.Event | None = None) -> AsyncIterator[list[bool]]:
    """Another connection (as another process would) holds the write lock, with a row of 0
    written, from entry on: until ``release`` is set, or ``seconds`` pass. Exit waits for it to
    commit; the yielded list then says whether ``release`` ended the hold."""
    held = threading.Event()
    released = release or threading.Event()
    outcome: list[bool] = []

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (n) VALUES (0)")
            held.set()
            outcome.append(released.wait(seconds))
            conn.execute("COMMIT")
        finally:
            conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        await anyio.to_thread.run_sync(held.wait)
        yield outcome
    finally:
        await anyio.to_thread.run_sync(holder.join)


def insert_where(conn: sqlite3.Connection, n: int,
                 other: sqlite3.Connection) -> tuple[int, int]:
    """Insert ``n``; return the thread it ran in and the rows ``other`` sees committed then."""
    insert(conn, n)
    return threading.get_ident(), other.execute("SELECT count(*) FROM t").fetchone()[0]


async def test_a_locked_file_is_waited_for_on_the_loop_and_calls_then_share_a_transaction(
        tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    db = database(path)
    await db.run(rows)  # opened
    release = threading.Event()
    done: dict[int, tuple[int, int]] = {}

    other = sqlite3.connect(path, check_same_thread=False)

    async def write(n: int) -> None:
        done[n] = await db.run(insert_where, n, other)

    try:
        async with locked_elsewhere(path, 30, release) as released_by_the_loop:
            async with anyio.create_task_group() as writers:
                for n in (1, 2, 3):  # started in this order
                    writers.start_soon(write, n)
                # Every writer now waits for the lock. Only a loop that is not blocked by them gets
                # here to end the other connection's hold; a blocked one would wait it out (30 s).
                await anyio.wait_all_tasks_blocked()
                release.set()
        assert released_by_the_loop == [True]
        # Every write landed after the other connection's, in the order they were made, each
        # on the loop's thread (not a worker's), all three in one transaction.
        assert await db.run(rows) == [0, 1, 2, 3]
        assert {thread for thread, _ in done.values()} == {threading.get_ident()}
        assert [done[n][1] for n in (1, 2, 3)] == [1, 1, 1]  # none committed before the others
        assert await db.run(thread_id) == threading.get_ident()  # still on the loop
    finally:
        other.close()
        await db.aclose()


async def test_a_lock_held_too_long_fails_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "a.sqlite3"
    db = database(path)
    await db.run(rows)
    async with locked_elsewhere(path, 1.5):
        with pytest.raises(StoreError, match=r"test store '.*a\.sqlite3' failed: database is "
                                             r"locked\. If another process holds it locked, "
                                             r"it waited 0\.2 s"):
            await db.run(insert, 1)
    await db.run(insert, 2)  # usable again once the lock is gone
    assert await db.run(rows) == [0, 2]
    await db.aclose()


async def test_the_wal_is_checkpointed_into_the_file_off_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sqlite, "CHECKPOINT_EVERY", 10)
    path = tmp_path / "a.sqlite3"
    db = database(path)

    def rows_in_the_file_alone() -> int:
        """What the checkpoints copied: the database file without its -wal."""
        copy = tmp_path / "copy.sqlite3"
        shutil.copyfile(path, copy)
        conn = sqlite3.connect(copy)
        try:
            return len(rows(conn))
        except sqlite3.OperationalError:  # no table yet: its creation is still in the WAL
            return 0
        except sqlite3.DatabaseError:  # copied while a checkpoint was writing pages: torn
            return 0
        finally:
            conn.close()

    try:
        for n in range(25):
            await db.run(insert, n)
        # The checkpoints run in threads of their own that nobody waits for: poll (bounded).
        with anyio.fail_after(10):
            while rows_in_the_file_alone() < 10:  # the first call opened the file: 24 counted
                await anyio.sleep(0.02)
    finally:
        await db.aclose()


def insert_blob(conn: sqlite3.Connection, size: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS blobs (b BLOB NOT NULL)")
    conn.execute("INSERT INTO blobs (b) VALUES (?)", (os.urandom(size),))


def count_blobs(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0])


async def test_a_large_wal_is_checkpointed_early_and_cut_back_while_writes_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 item 7: a store that writes big batches in few calls (the trace and log store)
    grew its WAL without end: checkpoints came only every CHECKPOINT_EVERY calls, and a PASSIVE
    one never shrinks the file (the soak's WAL reached gigabytes, its -shm index mapped into the
    core's RSS)."""
    limit = 256 * 1024
    monkeypatch.setattr(_sqlite, "CHECKPOINT_EVERY", 10**9)  # only the size may trigger one
    monkeypatch.setattr(_sqlite, "WAL_SIZE_LIMIT", limit)
    monkeypatch.setattr(_sqlite, "WAL_CHECK_EVERY", 4, raising=False)
    path = tmp_path / "a.sqlite3"
    wal = tmp_path / "a.sqlite3-wal"
    db = database(path)
    written = 0
    try:
        for _ in range(64):  # 64 x 32 KiB: eight times the limit
            await db.run(insert_blob, 32 * 1024)
            written += 1
        # The writes go on (a steady writer, as under load) until a checkpoint has cut the WAL
        # back under the limit: bounded in count and time.
        with anyio.fail_after(20):
            while wal.stat().st_size > limit and written < 2000:
                await db.run(insert_blob, 1024)
                written += 1
                await anyio.sleep(0.005)
        assert wal.stat().st_size <= limit, f"the WAL is {wal.stat().st_size} bytes"
        assert await db.run(count_blobs) == written  # nothing written was lost
    finally:
        await db.aclose()


async def test_a_checkpoint_leaves_the_wal_file_under_the_limit_by_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PASSIVE checkpoint copies the WAL but leaves the file as large as it was, to be started
    over by the next write only if none came while it ran: past the limit it truncates."""
    limit = 256 * 1024
    monkeypatch.setattr(_sqlite, "CHECKPOINT_EVERY", 10**9)
    monkeypatch.setattr(_sqlite, "WAL_CHECK_EVERY", 10**9, raising=False)
    monkeypatch.setattr(_sqlite, "WAL_SIZE_LIMIT", limit)
    path = tmp_path / "a.sqlite3"
    db = database(path)
    try:
        for _ in range(64):
            await db.run(insert_blob, 32 * 1024)
        assert (tmp_path / "a.sqlite3-wal").stat().st_size > limit
        await anyio.to_thread.run_sync(db._checkpoint_now)
        assert (tmp_path / "a.sqlite3-wal").stat().st_size <= limit
        assert await db.run(count_blobs) == 64
    finally:
        await db.aclose()


async def test_scans_read_in_a_thread_beside_the_loops_writes(tmp_path: Path) -> None:
    db = database(tmp_path / "a.sqlite3")
    try:
        assert await db.scan(rows) == []  # opens the file first
        await db.run(insert, 1)
        assert await db.scan(rows) == [1]  # sees what run() has returned from

        scanning, written = threading.Event(), threading.Event()

        def slow_scan(conn: sqlite3.Connection) -> tuple[int, list[int], bool]:
            seen = rows(conn)
            scanning.set()
            # The loop writes now, while this scan still holds its connection.
            return threading.get_ident(), seen, written.wait(5)

        async def write_meanwhile() -> None:
            await anyio.to_thread.run_sync(scanning.wait, 5)
            for n in (2, 3):
                await db.run(insert, n)
            written.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(write_meanwhile)
            scanned_by, seen, writes_went_on = await db.scan(slow_scan)
        assert writes_went_on  # the loop's writes did not wait for the scan to end
        assert scanned_by != threading.get_ident() and seen == [1]
        assert await db.scan(rows) == [1, 2, 3]
    finally:
        await db.aclose()
    with pytest.raises(StoreError, match="closed"):
        await db.scan(rows)


async def test_a_closed_database_refuses_calls(tmp_path: Path) -> None:
    db = database(tmp_path / "a.sqlite3")
    await db.run(insert, 1)
    await db.aclose()
    await db.aclose()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await db.run(rows)


async def test_the_calls_of_one_turn_of_the_loop_share_one_commit(tmp_path: Path) -> None:
    """Group commit: 32 writes started together are committed together, and each ``run``
    returns only once its write is committed (another connection sees it)."""
    path = tmp_path / "a.sqlite3"
    db = database(path)
    commits: list[str] = []
    other = None
    try:
        await db.run(insert, -1)  # opens the file
        assert db._conn is not None
        db._conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        other = sqlite3.connect(path)
        seen: list[int] = []

        async def write(n: int) -> None:
            await db.run(insert, n)
            seen.append(len(rows(other)))  # type: ignore[arg-type]

        async with anyio.create_task_group() as tg:
            for n in range(32):
                tg.start_soon(write, n)
        assert sorted(rows(other)) == [-1, *range(32)]
        assert seen == [33] * 32  # every write was visible elsewhere when its call returned
        assert 1 <= len(commits) < 4, commits
    finally:
        if other is not None:
            other.close()
        await db.aclose()


async def test_a_failed_call_in_a_shared_transaction_undoes_only_its_own_part(
        tmp_path: Path) -> None:
    db = database(tmp_path / "a.sqlite3")

    def insert_then_fail(conn: sqlite3.Connection) -> None:
        with write_transaction(conn):
            conn.execute("INSERT INTO t (n) VALUES (2)")
            conn.execute("INSERT INTO t (n) VALUES (NULL)")  # NOT NULL: fails

    try:
        await db.run(insert, 0)  # opens the file
        results: dict[int, object] = {}

        async def call(n: int, fn: object) -> None:
            try:
                await db.run(fn, *((n,) if fn is insert else ()))  # type: ignore[arg-type]
                results[n] = "ok"
            except StoreError as exc:
                results[n] = exc

        async with anyio.create_task_group() as tg:  # the three in one turn of the loop
            tg.start_soon(call, 1, insert)
            tg.start_soon(call, 2, insert_then_fail)
            tg.start_soon(call, 3, insert)
        assert results[1] == results[3] == "ok"
        assert isinstance(results[2], StoreError) and "a.sqlite3" in str(results[2])
        assert await db.scan(rows) == [0, 1, 3]
    finally:
        await db.aclose()


async def test_an_unconfirmed_write_is_committed_before_a_scan_and_on_close(
        tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    db = database(path)
    try:
        await db.run(insert, 0)
        await db.run(insert, 1, confirm=False)  # returns before its commit
        assert await db.scan(rows) == [0, 1]
        await db.run(insert, 2, confirm=False)
    finally:
        await db.aclose()
    conn = sqlite3.connect(path)
    try:
        assert rows(conn) == [0, 1, 2]
    finally:
        conn.close()



async def test_stores_opening_a_new_file_at_once_all_get_it(tmp_path: Path) -> None:
    # `motia start --processes N` on a new project: every process creates and migrates the same
    # .motia files at once. SQLite refuses some of those lock requests at once ("database is
    # locked", no busy wait); the open tries again instead of failing the process's start.
    for attempt in range(20):  # each a new file; a race, so many of them
        stores = [database(tmp_path / f"new-{attempt}.sqlite3") for _ in range(3)]
        try:
            async with anyio.create_task_group() as tg:
                for n, store in enumerate(stores):
                    tg.start_soon(store.run, insert, n)
            assert sorted(await stores[0].run(rows)) == [0, 1, 2]
        finally:
            for store in stores:
                await store.aclose()
