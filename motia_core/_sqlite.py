"""What the SQLite stores (state, event queue) share: opening a file, migrating it, writing.

Each store names itself (``name``: "state", "event queue") and its error class, so a message a
user sees still says which file of which store failed and what to do about it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ("BUSY_TIMEOUT_S", "open_database", "write_transaction")

# How long a call waits for another process's write lock before failing.
BUSY_TIMEOUT_S = 5.0


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock first so what it reads stays true."""
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
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if full_sync else 'NORMAL'}")
        _migrate(conn, path, what, migrations, error)
        if after is not None:
            after(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise error(f"{str(path)!r} is not a usable motia {name} database ({exc}); move it away "
                    f"(or delete it, losing {holds}) and start again") from exc
    except BaseException:
        conn.close()
        raise
    return conn
