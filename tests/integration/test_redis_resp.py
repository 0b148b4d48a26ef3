"""The stores' lean Redis connection (storage/resp.py): replies, pipelining, failures."""

from __future__ import annotations

import anyio
import pytest
import redis
import redis.exceptions

from motia_core.storage.resp import RespConnection, _Incomplete, pack, parse

pytestmark = pytest.mark.anyio

BOUND_S = 10.0


def test_a_reply_split_anywhere_parses_once_it_is_whole() -> None:
    wire = b"*5\r\n$3\r\nabc\r\n:-7\r\n$-1\r\n*2\r\n+OK\r\n-WRONGTYPE no\r\n$0\r\n\r\n"
    for cut in range(len(wire)):
        with pytest.raises(_Incomplete):
            parse(bytearray(wire[:cut]), 0)
    reply, end = parse(bytearray(wire + b":1\r\n"), 0)
    assert end == len(wire)
    assert reply[:3] == [b"abc", -7, None] and reply[4] == b""
    ok, error = reply[3]
    assert ok == "OK" and isinstance(error, redis.exceptions.ResponseError)
    assert str(error) == "WRONGTYPE no"


def test_arguments_go_as_bulk_strings() -> None:
    assert pack(("SET", "k\u00e9", b"\r\n", 12)) == (
        b"*4\r\n$3\r\nSET\r\n$3\r\nk\xc3\xa9\r\n$2\r\n\r\n\r\n$2\r\n12\r\n")


async def test_calls_from_many_tasks_share_the_socket_in_order(redis_url: str,
                                                              redis_prefix: str) -> None:
    conn = RespConnection(redis_url)
    key = f"{redis_prefix}counter"
    got: list[int] = []
    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(lambda: _append(got, conn.call("INCR", key)))
        assert sorted(got) == list(range(1, 51))
        with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
            await conn.call("LPUSH", key, "x")
        assert await conn.call("GET", key) == b"50"  # the connection is still in step
    finally:
        conn.close()


async def _append(into: list[int], call: object) -> None:
    into.append(await call)  # type: ignore[misc]


async def test_a_connection_the_server_closed_is_opened_again(redis_url: str) -> None:
    conn = RespConnection(redis_url)
    admin = redis.Redis.from_url(redis_url)
    try:
        first = await conn.call("CLIENT", "ID")
        admin.client_kill_filter(_id=first)
        failures = 0
        with anyio.fail_after(BOUND_S):
            while True:
                try:
                    second = await conn.call("CLIENT", "ID")
                    break
                except redis.exceptions.ConnectionError:
                    failures += 1  # the call that met the closed socket
        assert second != first and failures <= 1
    finally:
        conn.close()
        admin.close()


async def test_the_database_of_the_url_is_selected(redis_url: str, redis_prefix: str) -> None:
    url = redis_url.rsplit("/", 1)[0] if redis_url.count("/") > 2 else redis_url
    conn = RespConnection(f"{url}/3")
    try:
        assert b" db=3 " in await conn.call("CLIENT", "INFO")
    finally:
        conn.close()


async def test_no_server_is_a_connection_error() -> None:
    conn = RespConnection("redis://127.0.0.1:1/0")
    with pytest.raises(redis.exceptions.ConnectionError):
        await conn.call("PING")


async def test_a_reply_late_past_its_bound_fails_the_call_and_the_connection_is_replaced(
    redis_url: str, redis_prefix: str,
) -> None:
    conn = RespConnection(redis_url)
    try:
        first = await conn.call("CLIENT", "ID")
        with pytest.raises(redis.exceptions.TimeoutError):
            await conn.call("BLPOP", f"{redis_prefix}never", "5", timeout_s=0.05)
        assert await conn.call("CLIENT", "ID") != first
    finally:
        conn.close()
