"""The state contract, run against every adapter: memory, SQLite on a real file in tmp_path, and
Redis on the server of MOTIA_TEST_REDIS_URL under a key prefix of each test's own.

The first part is one suite parametrised over the adapters: whatever passes for memory must pass
for SQLite and Redis. The rest covers what only one adapter has: SQLite's durability, schema and
file errors; two Redis stores sharing a server; the memory adapter's test helpers; the factory.
"""

from __future__ import annotations

import datetime
import decimal
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from motia_core.state import (
    SQLITE_FILENAME,
    InvalidStateValue,
    MemoryState,
    SqliteState,
    StateAdapter,
    StateClosed,
    StateError,
    StateItem,
    UnknownStateAdapter,
    open_state,
)
from motia_core.state.memory import OPERATION_LOG_SIZE
from motia_core.state.redis import RedisState

pytestmark = pytest.mark.anyio

KINDS = ("memory", "sqlite", "redis")


@pytest.fixture(params=KINDS)
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateAdapter]:
    if request.param == "redis":
        adapter = open_state("redis", tmp_path, redis_url=request.getfixturevalue("redis_url"),
                             redis_prefix=request.getfixturevalue("redis_prefix"))
    else:
        adapter = open_state(request.param, tmp_path / ".motia")
    async with adapter:
        yield adapter


# --- the five data operations ---------------------------------------------------------------------


async def test_get_set_delete_round_trip(state: StateAdapter) -> None:
    assert await state.get("orders", "42") is None
    assert await state.set("orders", "42", {"status": "new"}) == {"status": "new"}
    assert await state.get("orders", "42") == {"status": "new"}
    assert await state.set("orders", "42", {"status": "paid"}) == {"status": "paid"}
    assert await state.get("orders", "42") == {"status": "paid"}
    assert await state.delete("orders", "42") == {"status": "paid"}
    assert await state.get("orders", "42") is None
    assert await state.delete("orders", "42") is None
    assert await state.delete("never", "was") is None
    assert await state.groups() == []


async def test_the_memory_operation_log_keeps_only_the_latest() -> None:
    """A long-running `--state memory` server (or streams on it) must not grow without end."""
    state = MemoryState()
    for n in range(OPERATION_LOG_SIZE + 5):
        await state.set("g", f"k{n}", n)
    assert len(state.operations) == OPERATION_LOG_SIZE
    assert state.operations[0] == ("set", "g", "k5")  # the oldest five were dropped
    assert state.operations[-1] == ("set", "g", f"k{OPERATION_LOG_SIZE + 4}")
    assert await state.get("g", "k0") == 0  # the values themselves are all kept


async def test_get_group_is_in_key_order_whatever_the_write_order(state: StateAdapter) -> None:
    for key in ("b", "a", "c", "B", "é", "10", "9"):
        await state.set("g", key, key.upper())
    await state.set("g", "b", "b-again")  # an update keeps no trace of the old position
    expected_keys = sorted(["b", "a", "c", "B", "é", "10", "9"])
    assert await state.keys("g") == expected_keys
    assert await state.get_group("g") == [
        "b-again" if k == "b" else k.upper() for k in expected_keys
    ]
    assert await state.get_group("unknown") == []
    assert await state.keys("unknown") == []


async def test_clear_removes_one_group_only(state: StateAdapter) -> None:
    await state.set("a", "1", 1)
    await state.set("a", "2", 2)
    await state.set("b", "1", "kept")
    await state.clear("a")
    assert await state.get_group("a") == []
    assert await state.get("b", "1") == "kept"
    assert await state.groups() == ["b"]
    await state.clear("no-such-group")
    assert await state.groups() == ["b"]


async def test_groups_and_items_list_everything_sorted(state: StateAdapter) -> None:
    await state.set("z", "k", "s")
    await state.set("a", "n", 1.5)
    await state.set("a", "b", True)
    await state.set("a", "o", {"x": 1})
    await state.set("a", "l", [1])
    await state.set("a", "null", None)
    assert await state.groups() == ["a", "z"]
    items = await state.items()
    assert [(i.group_id, i.key, i.type, i.value) for i in items] == [
        ("a", "b", "boolean", True),
        ("a", "l", "array", [1]),
        ("a", "n", "number", 1.5),
        ("a", "null", "null", None),
        ("a", "o", "object", {"x": 1}),
        ("z", "k", "string", "s"),
    ]
    assert await state.items("z") == [StateItem(group_id="z", key="k", type="string", value="s")]
    assert await state.items("none") == []


async def test_state_item_uses_the_wire_names_of_the_original() -> None:
    item = StateItem(group_id="g", key="k", type="number", value=3)
    assert msgspec.json.decode(msgspec.json.encode(item)) == {
        "groupId": "g", "key": "k", "type": "number", "value": 3,
    }


# --- groups and keys: a real delimiter ---------------------------------------------------------


async def test_groups_never_see_each_others_keys(state: StateAdapter) -> None:
    await state.set("a", "x", "a/x")
    await state.set("a", "b:c", "a/b:c")
    await state.set("ab", "x", "ab/x")
    await state.set("a:b", "c", "a:b/c")
    await state.set("a:", "b:c", "a:/b:c")
    await state.set("", ":", "empty/:")
    assert await state.get_group("a") == ["a/b:c", "a/x"]
    assert await state.keys("a") == ["b:c", "x"]
    assert await state.get_group("a:b") == ["a:b/c"]
    assert await state.get("a:", "b:c") == "a:/b:c"
    assert await state.get("a:b", "c") == "a:b/c"
    assert await state.get("a", "b:c") == "a/b:c"
    assert await state.get_group("") == ["empty/:"]
    await state.clear("a")
    assert await state.groups() == ["", "a:", "a:b", "ab"]
    assert [(i.group_id, i.key) for i in await state.items()] == [
        ("", ":"), ("a:", "b:c"), ("a:b", "c"), ("ab", "x"),
    ]


@pytest.mark.parametrize("name", ["", " ", ":", "::", "trace-1:step", "日本語", "🦆", "a\x00b",
                                  "line\nbreak", "'; DROP TABLE state; --", "k" * 5000])
async def test_any_string_is_a_group_and_a_key(state: StateAdapter, name: str) -> None:
    await state.set(name, name, name)
    await state.set(name + "x", name, "other group")
    assert await state.get(name, name) == name
    assert await state.keys(name) == [name]
    assert await state.get_group(name) == [name]
    assert await state.delete(name, name) == name
    assert await state.groups() == [name + "x"]


@pytest.mark.parametrize("bad", [1, None, b"bytes", ("a",)])
async def test_group_and_key_must_be_strings(state: StateAdapter, bad: Any) -> None:
    with pytest.raises(TypeError, match="state group must be a string"):
        await state.get(bad, "k")
    with pytest.raises(TypeError, match="state key must be a string"):
        await state.set("g", bad, 1)
    with pytest.raises(TypeError, match="state group must be a string"):
        await state.get_group(bad)


async def test_text_that_is_not_valid_unicode_is_refused(state: StateAdapter) -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        await state.set("g", "\ud800", 1)


# --- values ------------------------------------------------------------------------------------

JSON_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63, 2**70, -(2**100), 0.1, -2.5e-308, 1e300, 1.0, "",
    "plain", "quotes \" and \\ and \n and \t", "日本語 🦆 Ünïcödé", [], {}, [1, "two", None, [3]],
    {"nested": {"deeper": {"list": [{"k": [1, 2, {"z": None}]}]}}, "empty": {}},
    {"": "empty key", ":": "colon key", "🦆": "duck"},
    ["x" * 1_000_000],
    list(range(10_000)),
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=lambda v: repr(v)[:30])
async def test_every_json_value_round_trips_exactly(state: StateAdapter, value: Any) -> None:
    assert await state.set("g", "k", value) == value
    got = await state.get("g", "k")
    assert got == value
    assert type(got) is type(value)  # 1.0 stays a float, True stays a bool
    assert await state.get_group("g") == [value]
    assert (await state.items("g"))[0].value == value


async def test_dict_key_order_is_kept(state: StateAdapter) -> None:
    await state.set("g", "k", {"z": 1, "a": 2, "m": 3})
    got: dict[str, int] = await state.get("g", "k")
    assert list(got) == ["z", "a", "m"]


async def test_null_is_stored_not_deleted(state: StateAdapter) -> None:
    assert await state.set("g", "k", None) is None
    assert await state.get("g", "k") is None
    assert await state.keys("g") == ["k"]
    assert await state.get_group("g") == [None]
    assert await state.items("g") == [StateItem(group_id="g", key="k", type="null", value=None)]
    assert await state.delete("g", "k") is None
    assert await state.keys("g") == []


async def test_a_tuple_is_stored_as_a_list(state: StateAdapter) -> None:
    assert await state.set("g", "k", {"t": (1, (2, 3))}) == {"t": [1, [2, 3]]}
    assert await state.get("g", "k") == {"t": [1, [2, 3]]}


async def test_values_are_copied_in_and_out(state: StateAdapter) -> None:
    value: dict[str, Any] = {"items": [1, 2], "meta": {"n": 1}}
    returned = await state.set("g", "k", value)
    value["items"].append(3)
    value["meta"]["n"] = 99
    returned["items"].append(4)
    got: dict[str, Any] = await state.get("g", "k")
    got["meta"]["n"] = -1
    (await state.get_group("g"))[0]["items"].clear()
    (await state.items("g"))[0].value["items"].clear()
    assert await state.get("g", "k") == {"items": [1, 2], "meta": {"n": 1}}
    deleted = await state.delete("g", "k")
    assert deleted == {"items": [1, 2], "meta": {"n": 1}}


def _cycle() -> list[Any]:
    cycle: list[Any] = []
    cycle.append(cycle)
    return cycle


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


NOT_JSON = [
    pytest.param(object(), r"value is of type object", id="object"),
    pytest.param({"when": datetime.date(2025, 1, 1)}, r"value\['when'\] is of type date",
                 id="date"),
    pytest.param({"tags": {"a", "b"}}, r"value\['tags'\] is of type set", id="set"),
    pytest.param([1, b"raw"], r"value\[1\] is of type bytes", id="bytes"),
    pytest.param({"price": decimal.Decimal("1.5")}, r"value\['price'\] is of type Decimal",
                 id="decimal"),
    pytest.param({"x": [1.0, float("nan")]}, r"value\['x'\]\[1\] is nan", id="nan"),
    pytest.param(float("inf"), r"value is inf", id="inf"),
    pytest.param({1: "int key"}, r"value has a key of type int \(1\); keys must be strings",
                 id="int-key"),
    pytest.param({"a": [{"b": {None: 1}}]}, r"value\['a'\]\[0\]\['b'\] has a key of type NoneType",
                 id="nested-none-key"),
    pytest.param({"s": ["ok", "bad \udc80"]}, r"value\['s'\]\[1\] is a string with a lone",
                 id="surrogate"),
    pytest.param({"\ud800": 1}, r"value has a key with a lone surrogate", id="surrogate-key"),
    pytest.param(_cycle(), r"contains itself", id="cycle"),
    pytest.param(_deep(5_000), r"nested too deeply", id="too-deep"),
]


@pytest.mark.parametrize(("value", "where"), NOT_JSON)
async def test_a_value_that_is_not_json_is_refused_clearly(
    state: StateAdapter, value: Any, where: str
) -> None:
    await state.set("orders", "o:1", "before")
    with pytest.raises(InvalidStateValue, match=where) as info:
        await state.set("orders", "o:1", value)
    message = str(info.value)
    assert "group 'orders', key 'o:1'" in message
    assert "must be JSON" in message
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    assert await state.get("orders", "o:1") == "before"


# --- concurrency and lifecycle -----------------------------------------------------------------


async def test_200_concurrent_sets_all_land(state: StateAdapter) -> None:
    async def write(i: int) -> None:
        assert await state.set("many", f"{i:03d}", {"i": i}) == {"i": i}

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(write, i)
    assert await state.keys("many") == [f"{i:03d}" for i in range(200)]
    assert await state.get_group("many") == [{"i": i} for i in range(200)]


async def test_concurrent_writers_and_readers_of_one_key(state: StateAdapter) -> None:
    seen: list[Any] = []

    async def write(i: int) -> None:
        await state.set("one", "key", i)

    async def read() -> None:
        seen.append(await state.get("one", "key"))

    async with anyio.create_task_group() as tg:
        for i in range(100):
            tg.start_soon(write, i)
            tg.start_soon(read)
    assert await state.get("one", "key") in range(100)
    assert all(v is None or v in range(100) for v in seen)


async def test_closed_store_refuses_work(state: StateAdapter) -> None:
    await state.set("g", "k", 1)
    await state.aclose()
    await state.aclose()  # idempotent
    with pytest.raises(StateClosed, match="closed"):
        await state.get("g", "k")
    with pytest.raises(StateClosed):
        await state.set("g", "k", 2)
    with pytest.raises(StateClosed):
        await state.items()


# --- SQLite only -----------------------------------------------------------------------------


async def test_sqlite_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.sqlite3"
    async with SqliteState(path) as first:
        await first.set("g", "k", {"v": [1, 2]})
        await first.set("g", "gone", 0)
        await first.delete("g", "gone")
    assert path.is_file()
    async with SqliteState(path) as second:
        assert await second.get("g", "k") == {"v": [1, 2]}
        assert await second.keys("g") == ["k"]


async def test_sqlite_two_open_instances_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    async with SqliteState(path) as a, SqliteState(path) as b:
        await a.set("g", "k", "from a")
        assert await b.get("g", "k") == "from a"
        assert await b.delete("g", "k") == "from a"
        assert await a.get("g", "k") is None

        async def write(store: StateAdapter, i: int) -> None:
            await store.set("both", f"{i:03d}", i)

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(write, a if i % 2 else b, i)
        assert await a.get_group("both") == list(range(100))


KILLED_WRITER = """
import os, signal, sys
import anyio
from motia_core.state import SqliteState

async def main() -> None:
    state = SqliteState(sys.argv[1])
    for i in range(50):
        await state.set("g", f"{i:02d}", {"i": i})
    print("written", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no aclose, no checkpoint, no atexit

anyio.run(main)
"""


async def test_sqlite_loses_nothing_when_the_process_is_killed(tmp_path: Path) -> None:
    path = tmp_path / ".motia" / SQLITE_FILENAME
    result = await anyio.run_process([sys.executable, "-c", KILLED_WRITER, str(path)],
                                     check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert result.stdout == b"written\n"
    async with SqliteState(path) as state:
        assert await state.get_group("g") == [{"i": i} for i in range(50)]


async def test_sqlite_file_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    async with SqliteState(path) as state:
        await state.set("g", "k", {"a": 1})
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert conn.execute("PRAGMA user_version").fetchone() == (1,)
            # JSON text, readable with the sqlite3 shell and its json functions
            row = conn.execute("SELECT group_id, key, value FROM state").fetchone()
            assert row == ("g", "k", '{"a":1}')
        finally:
            conn.close()


async def test_sqlite_refuses_a_file_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    state = SqliteState(path)
    with pytest.raises(StateError, match=r"schema version 99.*upgrade motia-core"):
        await state.open()
    await state.aclose()


async def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not sqlite, just some text that is long enough" * 100)
    state = SqliteState(path)
    with pytest.raises(StateError, match=r"state\.sqlite3.*not a usable motia state database"):
        await state.get("g", "k")
    await state.aclose()


async def test_sqlite_reports_a_path_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "is-a-dir").mkdir()
    state = SqliteState(tmp_path / "is-a-dir")
    with pytest.raises(StateError, match="is-a-dir"):
        await state.open()
    await state.aclose()


async def test_sqlite_full_sync_and_open_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.sqlite3"
    state = SqliteState(path, full_sync=True)
    assert not path.parent.exists()  # nothing happens before the first use
    assert await state.set("g", "k", 1) == 1
    assert path.is_file()
    await state.aclose()


# --- Redis only ------------------------------------------------------------------------------


async def test_redis_two_stores_share_a_prefix_and_no_other(redis_url: str,
                                                             redis_prefix: str) -> None:
    """Two instances on one prefix see each other's writes; another prefix sees nothing."""
    async with RedisState(redis_url, prefix=redis_prefix) as a, \
            RedisState(redis_url, prefix=redis_prefix) as b, \
            RedisState(redis_url, prefix=redis_prefix + "other:") as elsewhere:
        await a.set("g", "k", {"from": "a"})
        assert await b.get("g", "k") == {"from": "a"}
        assert await b.delete("g", "k") == {"from": "a"}
        assert await a.groups() == []
        await a.set("g", "k2", 2)
        assert await elsewhere.groups() == []
        assert await elsewhere.get("g", "k2") is None

        async def write(store: StateAdapter, i: int) -> None:
            await store.set("both", f"{i:03d}", i)

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(write, a if i % 2 else b, i)
        assert await b.get_group("both") == list(range(100))
        assert repr(a) == f"RedisState({redis_url!r}, prefix={redis_prefix!r})"


async def test_redis_down_is_named_with_its_url() -> None:
    # A port nothing listens on (the discard port, refused on loopback).
    url = "redis://user:secret@127.0.0.1:9/0"
    state = RedisState(url)
    with pytest.raises(StateError, match=r"cannot reach Redis at redis://user:\*\*\*@127\.0\.0"
                                         r"\.1:9/0 for the state store.*redis-server") as info:
        await state.open()
    assert "secret" not in str(info.value)
    with pytest.raises(StateError, match="cannot reach Redis"):
        await state.get("g", "k")
    await state.aclose()
    with pytest.raises(StateClosed):
        await state.get("g", "k")
    with pytest.raises(StateError, match="is not a Redis URL"):
        await RedisState("http://127.0.0.1:6379").get("g", "k")


# --- memory only -----------------------------------------------------------------------------


async def test_memory_logs_operations_for_tests() -> None:
    state = MemoryState()
    await state.set("orders", "1", {"n": 1})
    await state.get("orders", "1")
    await state.get_group("orders")
    await state.delete("orders", "1")
    await state.clear("orders")
    await state.keys("orders")  # admin reads are not logged
    with pytest.raises(InvalidStateValue):
        await state.set("orders", "2", {1, 2})  # refused, so not logged
    assert list(state.operations) == [
        ("set", "orders", "1"), ("get", "orders", "1"), ("getGroup", "orders", None),
        ("delete", "orders", "1"), ("clear", "orders", None),
    ]
    assert state.operations[0].op == "set"
    await state.set("orders", "3", 3)
    state.reset()
    assert not state.operations
    assert await state.groups() == []


async def test_memory_stores_are_independent() -> None:
    a, b = MemoryState(), MemoryState()
    await a.set("g", "k", 1)
    assert await b.get("g", "k") is None


# --- the factory -----------------------------------------------------------------------------


async def test_open_state_builds_each_kind(tmp_path: Path) -> None:
    memory = open_state("memory", tmp_path)
    assert isinstance(memory, MemoryState)
    sqlite_state = open_state(" SQLite ", tmp_path / ".motia")
    assert isinstance(sqlite_state, SqliteState)
    assert sqlite_state.path == tmp_path / ".motia" / SQLITE_FILENAME
    assert not (tmp_path / ".motia").exists()
    await sqlite_state.open()
    assert (tmp_path / ".motia" / SQLITE_FILENAME).is_file()
    await sqlite_state.aclose()
    await memory.aclose()


@pytest.mark.parametrize(("kind", "message"), [
    ("postgres", r"unknown state adapter 'postgres'; valid kinds are 'sqlite', 'memory', 'redis'"),
    ("redis", r"'redis' state adapter needs the server's URL: pass --redis-url.*MOTIA_REDIS_URL"),
])
def test_open_state_names_the_valid_kinds(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(UnknownStateAdapter, match=message) as info:
        open_state(kind, tmp_path)
    assert isinstance(info.value, ValueError)
    assert not os.listdir(tmp_path)
