"""The stream socket served for real on 127.0.0.1, checked with real WebSocket clients.

The pieces are put together here as the app wiring will: a StreamStore over a MemoryState, its
listener feeding a StreamHub, the StreamSocketServer given to ``create_app(websocket=...)``.
aiohttp's client checks the frames of MOTIA_CONTRACT 6.3 byte for byte; the unmodified
``@motiadev/stream-client-node`` (tests/fixtures/stream_client, ``npm ci`` there) follows an
item and a group; the real Python runner evaluates a stream file's ``canAccess``.

"Nothing else arrived" is never checked by waiting: a sentinel frame (a join to another group,
whose sync comes back) is sent after the thing that must not produce a frame, and frames on one
socket arrive in order, so the sentinel arriving next proves the absence.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.abc
import pytest
from aiohttp import WSMsgType, web

from motia_core.http import create_app
from motia_core.protocol import StreamCanAccessParams, StreamSubscription
from motia_core.runners import RunnerProcess, RunnerRegistry
from motia_core.state import MemoryState
from motia_core.streams.auth import StreamAccess
from motia_core.streams.hub import CLOSE_TOO_SLOW, StreamHub, Subscription
from motia_core.streams.store import StreamStore
from motia_core.streams.ws import StreamSocketServer
from tests.conftest import FIXTURES, missing, require_runtime
from tests.support import FakeCore

pytestmark = pytest.mark.anyio

STREAMS = ("todo", "chat")
CLIENT_DIR = FIXTURES / "stream_client"


class NoApi:
    """The HTTP layer's handler; these tests only upgrade, except for the health check."""

    async def invoke_api(self, *_args: Any) -> Any:
        raise AssertionError("no api step here")

    async def emit(self, *_args: Any) -> str:
        raise AssertionError("no emit here")

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}


@dataclass
class Served:
    url: str
    store: StreamStore
    hub: StreamHub
    session: aiohttp.ClientSession
    runner: web.AppRunner
    sockets: list[aiohttp.ClientWebSocketResponse[bool]] = field(default_factory=list)

    async def connect(self, path: str = "/", **kwargs: Any) -> Socket:
        ws = await self.session.ws_connect(self.url + path, **kwargs)
        self.sockets.append(ws)
        return Socket(ws)


@asynccontextmanager
async def serve(access: StreamAccess | None = None, *, hub: StreamHub | None = None,
                streams: Collection[str] | None = STREAMS,
                **options: Any) -> AsyncIterator[Served]:
    store = StreamStore(MemoryState())
    hub = hub or StreamHub()
    store.listeners.append(hub.on_change)
    if access is None:
        access = StreamAccess(streams=None if streams is None else (lambda: streams))
    sockets = StreamSocketServer(hub, store, access, **options)
    app = create_app([], NoApi(), websocket=sockets)
    app.on_shutdown.append(sockets.on_shutdown)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            served = Served(f"http://{host}:{port}", store, hub, session, runner)
            try:
                yield served
            finally:
                # Closed here, not left to the session: an unclosed one warns when collected.
                for ws in served.sockets:
                    await ws.close()
    finally:
        if runner.server is not None:  # not stopped by the test already
            await runner.cleanup()


class Socket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self.ws = ws

    async def join(self, stream: str, group: str, item_id: str | None = None) -> str:
        subscription_id = str(uuid.uuid4())
        data = {"streamName": stream, "groupId": group, "subscriptionId": subscription_id}
        if item_id is not None:
            data["id"] = item_id
        await self.ws.send_json({"type": "join", "data": data})
        return subscription_id

    async def leave(self, stream: str, group: str, subscription_id: str) -> None:
        await self.ws.send_json({"type": "leave", "data": {
            "streamName": stream, "groupId": group, "subscriptionId": subscription_id}})

    async def frame(self) -> dict[str, Any]:
        with anyio.fail_after(10):
            message = await self.ws.receive()
        assert message.type is WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        assert isinstance(frame.pop("timestamp"), int)
        return frame

    async def timed_frame(self) -> tuple[int, dict[str, Any]]:
        with anyio.fail_after(10):
            message = await self.ws.receive()
        assert message.type is WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        return frame.pop("timestamp"), frame

    async def sentinel(self) -> None:
        """The next frame is the sync of a fresh group: nothing was queued before it."""
        group = f"sentinel-{uuid.uuid4()}"
        await self.join("todo", group)
        assert await self.frame() == {"streamName": "todo", "groupId": group,
                                      "event": {"type": "sync", "data": []}}


def sync(group: str, data: Any, item_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"streamName": "todo", "groupId": group}
    if item_id is not None:
        frame["id"] = item_id
    frame["event"] = {"type": "sync", "data": data}
    return frame


def change(kind: str, group: str, item_id: str, data: Any) -> dict[str, Any]:
    return {"streamName": "todo", "groupId": group, "id": item_id,
            "event": {"type": kind, "data": data}}


def denied(stream: str, group: str, message: str, item_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"streamName": stream, "groupId": group}
    if item_id is not None:
        frame["id"] = item_id
    frame["event"] = {"type": "event", "event": {"type": "error", "data": {
        "code": "STREAM_ACCESS_DENIED", "message": message}}}
    return frame


# --- frames --------------------------------------------------------------------------------------


async def test_joins_sync_and_mutations_arrive_with_the_item_id_and_rising_timestamps() -> None:
    async with serve() as served:
        await served.store.set("todo", "inbox", "a", {"title": "milk"})
        socket = await served.connect()
        await socket.join("todo", "inbox", "a")
        assert await socket.frame() == sync("inbox", {"title": "milk", "id": "a"}, "a")
        await socket.join("todo", "inbox")
        assert await socket.frame() == sync("inbox", [{"title": "milk", "id": "a"}])
        await socket.join("todo", "inbox", "missing")  # no sync for an item that does not exist
        await socket.sentinel()

        await served.store.set("todo", "inbox", "b", {"title": "eggs"})
        await served.store.set("todo", "inbox", "a", {"title": "oat milk"})
        await served.store.delete("todo", "inbox", "a")
        await served.store.delete("todo", "inbox", "a")  # nothing deleted: no frame
        await served.store.set("todo", "inbox", "a", None)  # falsy: nothing stored, no frame
        await served.store.set("todo", "inbox", "missing", {"title": "bread"})
        stamps, frames = [], []
        for _ in range(4):
            stamp, frame = await socket.timed_frame()
            stamps.append(stamp)
            frames.append(frame)
        await socket.sentinel()
    assert frames == [
        change("create", "inbox", "b", {"title": "eggs", "id": "b"}),
        change("update", "inbox", "a", {"title": "oat milk", "id": "a"}),
        change("delete", "inbox", "a", {"title": "oat milk", "id": "a"}),
        change("create", "inbox", "missing", {"title": "bread", "id": "missing"}),
    ]
    assert stamps == sorted(set(stamps))


async def test_rooms_per_group_and_per_item_and_custom_events() -> None:
    async with serve() as served:
        group, item, other = [await served.connect() for _ in range(3)]
        await group.join("todo", "inbox")
        await item.join("todo", "inbox", "a")
        await other.join("todo", "done")
        assert (await group.frame())["event"]["type"] == "sync"
        assert (await other.frame())["event"]["type"] == "sync"

        await served.store.send("todo", "inbox", "a", "progress", {"pct": 50})
        await served.store.send("todo", "inbox", None, "finished", {"ok": True})
        await served.store.set("todo", "inbox", "b", {"n": 1})  # another item of the group
        await served.store.set("todo", "other", "a", {"n": 2})  # same id, another group

        item_event = {"streamName": "todo", "groupId": "inbox", "id": "a",
                      "event": {"type": "event", "event": {"type": "progress",
                                                           "data": {"pct": 50}}}}
        assert await group.frame() == item_event
        assert await group.frame() == {"streamName": "todo", "groupId": "inbox", "event": {
            "type": "event", "event": {"type": "finished", "data": {"ok": True}}}}
        assert await group.frame() == change("create", "inbox", "b", {"n": 1, "id": "b"})
        assert await item.frame() == item_event
        for socket in (group, item, other):
            await socket.sentinel()


async def test_leave_stops_delivery() -> None:
    async with serve() as served:
        socket = await served.connect()
        subscription_id = await socket.join("todo", "inbox")
        assert await socket.frame() == sync("inbox", [])
        await socket.leave("todo", "inbox", subscription_id)
        await socket.sentinel()  # the leave was handled
        await served.store.set("todo", "inbox", "a", {"n": 1})
        await socket.sentinel()
        assert served.hub.room_count == 2  # the two sentinel groups; "inbox" was deleted


async def test_frames_of_one_socket_are_handled_in_order() -> None:
    release = anyio.Event()
    checked: list[str] = []

    async def slow_check(stream: str, subscription: Subscription, _auth: Any) -> bool:
        checked.append(subscription.group_id)
        if subscription.group_id == "inbox":
            await release.wait()
        return True

    access = StreamAccess(streams=lambda: STREAMS, can_access=slow_check)
    async with serve(access) as served:
        socket = await served.connect()
        subscription_id = await socket.join("todo", "inbox")
        await socket.leave("todo", "inbox", subscription_id)  # must not overtake the join
        await socket.join("todo", "next")
        release.set()
        assert await socket.frame() == sync("inbox", [])
        assert await socket.frame() == sync("next", [])
        await served.store.set("todo", "inbox", "a", {"n": 1})
        await socket.sentinel()
    assert checked[:2] == ["inbox", "next"]


async def test_frames_that_are_not_joins_or_leaves_are_ignored() -> None:
    async with serve() as served:
        socket = await served.connect()
        await socket.ws.send_str("not json")
        await socket.ws.send_json({"type": "join", "data": {"streamName": 5, "groupId": "g"}})
        await socket.ws.send_json({"type": "dance", "data": {"streamName": "todo",
                                                             "groupId": "g"}})
        await socket.ws.send_json({"type": "leave", "data": {"streamName": "todo",
                                                             "groupId": "g"}})
        await socket.ws.send_bytes(json.dumps({"type": "join", "data": {
            "streamName": "todo", "groupId": "bin", "subscriptionId": "s"}}).encode())
        assert await socket.frame() == sync("bin", [])
        await socket.sentinel()


async def test_two_hundred_sockets_on_one_group_all_receive_every_change() -> None:
    async with serve() as served:
        sockets = [await served.connect() for _ in range(200)]
        for socket in sockets:
            await socket.join("todo", "crowd")
        for socket in sockets:
            assert await socket.frame() == sync("crowd", [])
        for n in range(3):
            await served.store.set("todo", "crowd", "x", {"n": n})
        seen = [[await socket.timed_frame() for _ in range(3)] for socket in sockets]
    assert all(frames == seen[0] for frames in seen)
    assert [frame["event"]["type"] for _stamp, frame in seen[0]] == ["create", "update", "update"]


# --- the handshake: any path, subprotocol, authentication ---------------------------------------


async def test_any_path_upgrades_and_http_keeps_working() -> None:
    async with serve() as served:
        for path in ("/", "/deep/path?x=1", "/__motia/health"):
            socket = await served.connect(path)
            await socket.join("todo", "inbox")
            assert await socket.frame() == sync("inbox", [])
            await socket.ws.close()
        async with served.session.get(served.url + "/__motia/health") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}


async def test_the_first_offered_subprotocol_is_selected() -> None:
    async with serve() as served:
        socket = await served.connect(protocols=("Authorization", "secret-token"))
        assert socket.ws.protocol == "Authorization"
        socket = await served.connect()
        assert socket.ws.protocol is None


async def test_a_refused_handshake_gets_401_and_the_auth_context_reaches_can_access() -> None:
    seen: list[tuple[dict[str, str], str]] = []
    contexts: list[Any] = []

    def authenticate(headers: Any, url: str) -> Any:
        seen.append((dict(headers), url))
        offered = headers.get("sec-websocket-protocol", "")
        if "good-token" not in offered and "token=good" not in url:
            raise PermissionError("bad token")
        return {"user": "ann"}

    async def can_access(stream: str, subscription: Subscription, auth: Any) -> bool:
        contexts.append(auth)
        return True

    access = StreamAccess(streams=lambda: STREAMS, authenticate=authenticate,
                          can_access=can_access)
    async with serve(access) as served:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await served.connect("/?token=bad")
        assert refused.value.status == 401
        async with served.session.get(served.url + "/", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as response:
            assert (response.status, response.reason) == (401, "Authentication failed")
            assert await response.text() == "Authentication failed"

        socket = await served.connect("/?token=good")
        await socket.join("todo", "inbox")
        assert await socket.frame() == sync("inbox", [])
        await socket.ws.close()
        socket = await served.connect(protocols=("Authorization", "good-token"))
        assert socket.ws.protocol == "Authorization"
        await socket.ws.close()
    assert seen[0][1] == "/?token=bad"
    assert all(name == name.lower() for headers, _url in seen for name in headers)
    assert contexts == [{"user": "ann"}]


async def test_a_refused_join_gets_the_error_frame_and_is_not_joined() -> None:
    def can_access(stream: str, subscription: Subscription, auth: Any) -> bool:
        if subscription.group_id == "boom":
            raise RuntimeError("canAccess crashed")
        return subscription.group_id != "secret"

    access = StreamAccess(streams=lambda: STREAMS, can_access=can_access)
    async with serve(access) as served:
        socket = await served.connect()
        await socket.join("todo", "secret")
        assert await socket.frame() == denied("todo", "secret", "Access denied")
        await socket.join("todo", "secret", "a")
        assert await socket.frame() == denied("todo", "secret", "Access denied", "a")
        await socket.join("todo", "boom")
        assert await socket.frame() == denied("todo", "boom", "Access denied")
        await served.store.set("todo", "secret", "a", {"n": 1})
        await socket.join("todo", "open")
        assert await socket.frame() == sync("open", [])  # allowed joins sync; secret sent nothing


async def test_unknown_streams_get_two_error_frames_when_guarded_and_silence_otherwise() -> None:
    access = StreamAccess(streams=lambda: STREAMS, can_access=lambda *_args: True)
    async with serve(access) as served:
        socket = await served.connect()
        await socket.join("nope", "g", "i")
        assert await socket.frame() == denied("nope", "g", "Stream nope not found", "i")
        assert await socket.frame() == denied("nope", "g", "Access denied", "i")
    async with serve() as served:
        socket = await served.connect()
        await socket.join("nope", "g")  # accepted, but no sync: the stream does not exist
        await socket.sentinel()
        assert served.hub.room_count == 2


async def test_stopping_the_server_closes_every_socket_with_going_away() -> None:
    async with serve() as served:
        sockets = [await served.connect() for _ in range(3)]
        for socket in sockets:
            await socket.join("todo", "inbox")
            assert await socket.frame() == sync("inbox", [])
        with anyio.fail_after(10):
            await served.runner.cleanup()  # the app's on_shutdown closes the sockets
        for socket in sockets:
            with anyio.fail_after(10):
                message = await socket.ws.receive()
            assert (message.type, message.data, message.extra) == (
                WSMsgType.CLOSE, 1001, "server shutting down")
        assert served.hub.clients == set()


# --- a client that cannot keep up -----------------------------------------------------------


async def test_a_slow_consumer_is_disconnected_while_a_fast_one_keeps_receiving() -> None:
    hub = StreamHub(max_queued_frames=64, max_queued_bytes=1 << 20)
    blob = "x" * 65536
    async with serve(hub=hub, close_timeout_s=60) as served:
        slow, fast = await served.connect(), await served.connect()
        for socket in (slow, fast):
            await socket.join("todo", "firehose")
            assert await socket.frame() == sync("firehose", [])
        # From here on `slow` reads nothing: its kernel buffers fill, then its queue.
        sent = 0
        while not hub.dropped_slow and sent < 2000:
            await served.store.send("todo", "firehose", None, "blob", {"n": sent, "blob": blob})
            assert (await fast.frame())["event"]["event"]["data"]["n"] == sent
            sent += 1
        assert hub.dropped_slow == 1
        await served.store.send("todo", "firehose", None, "after", None)
        assert (await fast.frame())["event"]["event"]["type"] == "after"

        received = 0
        with anyio.fail_after(60):
            message = await slow.ws.receive()
            while message.type is WSMsgType.TEXT and received <= sent:
                received += 1
                message = await slow.ws.receive()
    assert message.type is WSMsgType.CLOSE, message
    assert message.data == CLOSE_TOO_SLOW
    assert "too slow" in str(message.extra)
    assert received < sent  # it was cut off, not served everything


# --- the real clients ------------------------------------------------------------------------


class Lines:
    """JSON lines from a process's stdout."""

    def __init__(self, stream: anyio.abc.ByteReceiveStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self) -> Any:
        with anyio.fail_after(20):
            while b"\n" not in self.buffer:
                self.buffer += await self.stream.receive()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)


def stream_client() -> Path:
    require_runtime("node")
    if not (CLIENT_DIR / "node_modules" / "@motiadev" / "stream-client-node").is_dir():
        missing("the stream client", f"make test, or npm ci --prefix {CLIENT_DIR}")
    return CLIENT_DIR / "follow.mjs"


async def test_the_motia_node_client_follows_an_item_and_a_group() -> None:
    script = stream_client()

    def authenticate(headers: Any, url: str) -> Any:
        if "good-token" not in headers.get("sec-websocket-protocol", ""):
            raise PermissionError("no token")
        return None

    access = StreamAccess(streams=lambda: STREAMS, authenticate=authenticate)
    async with serve(access) as served:
        await served.store.set("todo", "inbox", "a", {"title": "milk"})
        command = ["node", str(script), served.url.replace("http", "ws") + "/", "todo", "inbox",
                   "t1", "--events", "progress,finished", "--protocols",
                   "Authorization,good-token"]
        async with await anyio.open_process(command, cwd=CLIENT_DIR) as process:
            assert process.stdout is not None and process.stdin is not None
            lines = Lines(process.stdout)
            try:
                milk = {"title": "milk", "id": "a"}
                assert await lines.next() == {"sub": "group", "state": [milk]}

                await served.store.set("todo", "inbox", "t1", {"title": "eggs"})
                eggs = {"title": "eggs", "id": "t1"}
                assert await lines.next() == {"sub": "item", "state": eggs}
                assert await lines.next() == {"sub": "group", "state": [milk, eggs]}

                await served.store.set("todo", "inbox", "t1", {"title": "brown eggs"})
                brown = {"title": "brown eggs", "id": "t1"}
                assert await lines.next() == {"sub": "item", "state": brown}
                assert await lines.next() == {"sub": "group", "state": [milk, brown]}

                await served.store.send("todo", "inbox", "t1", "progress", {"pct": 50})
                progress = {"event": "progress", "data": {"pct": 50}}
                assert await lines.next() == {"sub": "item", **progress}
                assert await lines.next() == {"sub": "group", **progress}

                await served.store.send("todo", "inbox", None, "finished", {"ok": True})
                assert await lines.next() == {"sub": "group", "event": "finished",
                                              "data": {"ok": True}}

                await served.store.delete("todo", "inbox", "t1")
                assert await lines.next() == {"sub": "item", "state": None}
                assert await lines.next() == {"sub": "group", "state": [milk]}

                await served.store.delete("todo", "inbox", "a")
                assert await lines.next() == {"sub": "group", "state": []}
            finally:
                await process.stdin.aclose()
                with anyio.fail_after(10):
                    await process.wait()


# --- canAccess evaluated in the Python runner -----------------------------------------------

STREAM_FILE = '''
async def can_access(subscription, auth_context):
    return bool(auth_context) and auth_context.get("user") == subscription["groupId"]


def strict_item(subscription, auth_context):
    if subscription.get("id") == "boom":
        raise ValueError("no such item")
    return "id" in subscription


config = {"name": "chat", "schema": {}, "baseConfig": {"storageType": "default"},
          "canAccess": can_access}
'''


async def test_can_access_defined_in_a_python_stream_file_is_evaluated_in_its_runner(
    tmp_path: Path,
) -> None:
    steps = tmp_path / "steps"
    steps.mkdir()
    chat, items = steps / "chat_stream.py", steps / "items_stream.py"
    chat.write_text(STREAM_FILE)
    items.write_text(STREAM_FILE.replace('"chat"', '"items"').replace(
        '"canAccess": can_access', '"canAccess": strict_item'))
    spec = RunnerRegistry.default().get("python")
    process = RunnerProcess(spec, project_root=tmp_path, callbacks=FakeCore())
    async with anyio.create_task_group() as tg:
        await tg.start(process.run)
        try:
            loaded = await process.load([str(chat), str(items)])
            assert all(f.config and f.config["__motia_hasCanAccess"] for f in loaded), loaded
            files = {"chat": str(chat), "items": str(items)}

            async def can_access(stream: str, subscription: Subscription, auth: Any) -> bool:
                # What the app wiring does through RunnerPool (see the report to the lead).
                endpoint = await process._ready_endpoint()
                params = StreamCanAccessParams(
                    file=files[stream], stream=stream, auth_context=auth,
                    subscription=StreamSubscription(group_id=subscription.group_id,
                                                    id=subscription.id))
                return bool(await endpoint.request("streams.canAccess", params))

            access = StreamAccess(streams=lambda: ("chat", "items"), can_access=can_access,
                                  authenticate=lambda _h, url: {"user": url.rpartition("=")[2]})
            async with serve(access) as served:
                socket = await served.connect("/?user=ann")
                await socket.join("chat", "ann")
                assert await socket.frame() == {"streamName": "chat", "groupId": "ann",
                                                "event": {"type": "sync", "data": []}}
                await socket.join("chat", "bob")
                assert await socket.frame() == denied("chat", "bob", "Access denied")
                await socket.join("items", "any", "i1")  # sync def, item join: allowed
                await socket.join("items", "any")  # a group join: refused
                assert await socket.frame() == denied("items", "any", "Access denied")
                await socket.join("items", "any", "boom")  # raises: refused
                assert await socket.frame() == denied("items", "any", "Access denied", "boom")
                await served.store.set("items", "any", "i1", {"n": 1})
                assert await socket.frame() == {"streamName": "items", "groupId": "any",
                                                "id": "i1", "event": {"type": "create",
                                                                      "data": {"n": 1,
                                                                               "id": "i1"}}}
        finally:
            with anyio.CancelScope(shield=True):
                await process.stop()
