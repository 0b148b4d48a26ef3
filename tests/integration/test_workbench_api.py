"""The Workbench API (/__motia/api/) against a real server with real runners.

examples/polyglot is served in place by MotiaTestApp (memory adapters: nothing is written into
the example), with its node and python runners; the app and cron fixtures cover dead letters and
cron. The security defaults of `motia start` are tested here through the harness (strict=True is
what `motia start` runs) and in tests/e2e/test_workbench_cli.py through the real command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from motia_core.testing import MotiaTestApp
from tests.integration.test_node_runner import require_node_runner

REPO = Path(__file__).resolve().parents[2]
POLYGLOT = REPO / "examples" / "polyglot"
FIXTURES = REPO / "tests" / "fixtures" / "projects"
API = "/__motia/api"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


async def frames_until(ws: aiohttp.ClientWebSocketResponse, wanted: Any,
                       timeout_s: float = 20.0) -> list[dict[str, Any]]:
    """Every frame received until ``wanted(frames)`` holds (or the deadline fails the test)."""
    frames: list[dict[str, Any]] = []
    with anyio.fail_after(timeout_s):
        while not wanted(frames):
            frames.append(json.loads((await ws.receive()).data))
    return frames


async def test_one_ticket_is_one_trace_across_node_and_python_with_its_events() -> None:
    require_node_runner()
    async with MotiaTestApp(POLYGLOT, runners=("node", "python")) as app, \
            aiohttp.ClientSession(f"http://127.0.0.1:{app.port}") as session, \
            session.ws_connect(f"{API}/live") as ws:
        created = await app.post("/tickets", json={"title": "Refund please",
                                                   "body": "charged twice",
                                                   "customer": "ada@example.com"})
        assert created.status in (200, 201), created.text
        trace_id = created.trace_id
        await app.settle()

        def span_and_log(frames: list[dict[str, Any]]) -> bool:
            kinds = {f["kind"] for f in frames
                     if (f.get("trace") or {}).get("id") == trace_id
                     or (f.get("record") or {}).get("traceId") == trace_id}
            return {"span", "log"} <= kinds

        frames = await frames_until(ws, span_and_log)
        assert any(f["kind"] == "state" and f["group"] == "tickets" for f in frames)

        listed = (await app.get(f"{API}/traces")).json
        assert listed["items"][0]["id"] == trace_id and listed["nextCursor"] is None
        assert set(listed["items"][0]["languages"]) == {"node", "python"}

        detail = (await app.get(f"{API}/traces/{trace_id}")).json
        assert detail["trace"]["status"] == "completed"
        spans = {s["name"]: s for s in detail["spans"]}
        assert spans["CreateTicket"]["language"] == "node"
        assert spans["CreateTicket"]["runner"] == "node#0"
        assert spans["TriageTicket"]["language"] == "python"
        assert spans["TriageTicket"]["parentId"] == spans["CreateTicket"]["id"]
        events = [e["type"] for e in spans["TriageTicket"]["events"]]
        assert {"state", "log", "emit"} <= set(events)
        emit = next(e for e in spans["CreateTicket"]["events"] if e["type"] == "emit")
        assert emit["topic"] == "ticket.created"
        assert (await app.get(f"{API}/traces/NOPE-0000000")).status == 404

        logs = (await app.get(f"{API}/logs", params={"traceId": trace_id})).json["items"]
        assert logs and all(record["traceId"] == trace_id for record in logs)
        triaged = next(r for r in logs if r["message"] == "ticket triaged")
        assert triaged["step"] == "TriageTicket" and triaged["runner"] == "python#0"
        assert triaged["spanId"] == spans["TriageTicket"]["id"]
        assert triaged["fields"]["id"] == trace_id and "priority" in triaged["fields"]
        assert (await app.get(f"{API}/logs", params={"level": "loud"})).status == 400


async def test_flows_endpoints_runners_and_info_describe_the_project() -> None:
    require_node_runner()
    async with MotiaTestApp(POLYGLOT, runners=("node", "python")) as app:
        graph = (await app.get(f"{API}/flows")).json
        assert "support" in graph["flows"]
        ids = {s["name"]: s["id"] for s in graph["steps"]}
        assert ids["CreateTicket"] == "steps/tickets/create-ticket.step.ts"
        edge = {"from": ids["CreateTicket"], "to": ids["TriageTicket"],
                "topic": "ticket.created", "virtual": False}
        assert edge in graph["edges"]
        topics = {t["topic"]: t for t in graph["topics"]}
        assert topics["ticket.created"]["orphan"] is None

        [create] = [e for e in (await app.get(f"{API}/endpoints")).json["items"]
                    if e["path"] == "/tickets"]
        assert create["method"] == "POST" and create["stepId"] == ids["CreateTicket"]

        runners = (await app.get(f"{API}/runners")).json["items"]
        assert {r["language"] for r in runners} == {"node", "python"}
        assert all(r["state"] == "READY" and isinstance(r["pid"], int) for r in runners)

        info = (await app.get(f"{API}/info")).json
        assert info["mode"] == "dev" and info["project"] == "polyglot"


async def test_state_written_through_the_api_is_what_the_next_request_reads() -> None:
    async with MotiaTestApp(FIXTURES / "cron") as app, \
            aiohttp.ClientSession(f"http://127.0.0.1:{app.port}") as session, \
            session.ws_connect(f"{API}/live") as ws:
        await ws.send_str(json.dumps({"subscribe": ["state"]}))
        put = await app.request("PUT", f"{API}/state/orders/o1", json={"item": "book"})
        assert put.json == {"group": "orders", "key": "o1", "value": {"item": "book"}}
        assert await app.state.get("orders", "o1") == {"item": "book"}
        assert (await app.get(f"{API}/state")).json == {"items": [{"group": "orders",
                                                                    "count": 1}]}
        assert (await app.get(f"{API}/state/orders")).json == {
            "items": [{"key": "o1", "value": {"item": "book"}}]}
        deleted = await app.request("DELETE", f"{API}/state/orders/o1")
        assert deleted.json == {"deleted": True}
        assert (await app.get(f"{API}/state/orders")).json == {"items": []}
        again = await app.request("DELETE", f"{API}/state/orders/o1")
        assert again.json == {"deleted": False}
        frames = await frames_until(ws, lambda fs: len(fs) >= 2)
        assert [(f["kind"], f["action"], f["key"]) for f in frames[:2]] == [
            ("state", "set", "o1"), ("state", "delete", "o1")]
        bad = await app.request("PUT", f"{API}/state/orders/o2", data=b"{not json",
                                headers={"content-type": "application/json"})
        assert bad.status == 400 and "not JSON" in bad.json["error"]


async def test_dead_letters_are_listed_shown_replayed_and_purged() -> None:
    async with MotiaTestApp(FIXTURES / "app") as app, \
            aiohttp.ClientSession(f"http://127.0.0.1:{app.port}") as session, \
            session.ws_connect(f"{API}/live") as ws:
        await ws.send_str(json.dumps({"subscribe": ["dlq"]}))
        await app.emit("flaky", {"x": 1})
        await app.settle()
        await frames_until(ws, lambda fs: {"kind": "dlq", "action": "added"} in fs)
        page = (await app.get(f"{API}/dlq")).json
        [letter] = page["items"]
        assert letter["queue"] == "flaky.Flaky" and letter["topic"] == "flaky"
        assert letter["data"] == {"x": 1} and letter["attempts"] == 3
        assert "flaky failure #3" in letter["error"]["message"]
        assert (await app.get(f"{API}/dlq/{letter['id']}")).json["id"] == letter["id"]
        assert (await app.get(f"{API}/dlq/nope")).status == 404

        replayed = await app.post(f"{API}/dlq/{letter['id']}/replay")
        assert replayed.json == {"replayed": 1}
        await app.settle()
        assert await app.state.get("flaky", "attempts") == 6  # three more, then dead again
        assert (await app.post(f"{API}/dlq/purge", json={"ids": ["x"]})).status == 400
        assert (await app.post(f"{API}/dlq/purge", json={"queue": "other.Step"})).json == {
            "purged": 0}
        assert (await app.post(f"{API}/dlq/purge")).json == {"purged": 1}
        assert (await app.get(f"{API}/dlq")).json == {"items": [], "nextCursor": None}


async def test_a_cron_step_runs_now_under_the_trace_it_answers() -> None:
    async with MotiaTestApp(FIXTURES / "cron") as app:
        [job] = (await app.get(f"{API}/cron")).json["items"]
        assert job["name"] == "EverySecond" and job["cron"] == "* * * * * *"
        assert isinstance(job["nextRunMs"], int)
        ran = await app.post(f"{API}/cron/EverySecond/run")
        trace_id = ran.json["traceId"]
        with anyio.fail_after(20):
            while not any(e.trace_id == trace_id for e in app.events):
                await app.wait_for_topic("ticked")
                if not any(e.trace_id == trace_id for e in app.events):
                    app.events.clear()
        with anyio.fail_after(20):  # the event goes out before the tick's span ends
            while (found := (await app.get(f"{API}/traces/{trace_id}")).json)[
                    "trace"]["status"] == "running":
                await anyio.sleep(0.01)
        assert [s["kind"] for s in found["spans"]] == ["cron"]
        report = await app.reload(FIXTURES / "cron" / "steps" / "tick_step.py")
        assert report is not None
        after = await app.get(f"{API}/traces/{trace_id}")
        assert after.json == found  # a hot reload keeps what was recorded
        assert (await app.post(f"{API}/cron/Nope/run")).status == 404


async def test_motia_start_grants_no_origin_and_guards_operator_endpoints() -> None:
    async with MotiaTestApp(FIXTURES / "cron", strict=True) as app:
        preflight = await app.request("OPTIONS", "/__motia/dlq/purge", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in preflight.headers
        assert (await app.post("/__motia/dlq/purge")).status == 401
        assert (await app.post("/emit", json={"topic": "ticked"})).status == 401
        assert (await app.request("PUT", f"{API}/state/g/k", json=1)).status == 401
        off = await app.get(f"{API}/traces")  # the Workbench is off
        assert off.status == 404 and "--workbench" in off.json["message"]


async def test_motia_start_with_a_token_and_the_workbench_on() -> None:
    async with MotiaTestApp(FIXTURES / "cron", strict=True, admin_token="s3cret",
                            workbench=True, cors_origins=["https://ops.example"]) as app:
        token = {"Authorization": "Bearer s3cret"}
        assert (await app.post("/__motia/dlq/purge")).status == 401
        assert (await app.post("/__motia/dlq/purge", headers=token)).status == 200
        assert (await app.request("PUT", f"{API}/state/g/k", json=1, headers=token)).json == {
            "group": "g", "key": "k", "value": 1}
        assert (await app.get(f"{API}/traces")).status == 200
        listed = await app.get(f"{API}/info", headers={"Origin": "https://ops.example"})
        assert listed.headers["Access-Control-Allow-Origin"] == "https://ops.example"
        assert (await app.get(f"{API}/info")).json["mode"] == "start"


async def test_a_live_socket_that_falls_behind_gets_an_overflow_frame() -> None:
    async with MotiaTestApp(FIXTURES / "cron") as app, \
            aiohttp.ClientSession(f"http://127.0.0.1:{app.port}") as session, \
            session.ws_connect(f"{API}/live") as ws:
        hub = app.app.live
        # Published without yielding, so the socket's pump cannot drain any in between.
        for n in range(hub.queue_frames + 10):
            hub.state_changed("set", "flood", str(n))

        def flood(frames: list[dict[str, Any]]) -> list[str]:
            return [f["key"] for f in frames if f.get("group") == "flood"]

        frames = await frames_until(ws, lambda fs: len(flood(fs)) >= hub.queue_frames and any(
            f["kind"] == "overflow" for f in fs))
        hub.state_changed("delete", "after", "k")  # the queue has room again by now
        frames += await frames_until(ws, lambda fs: bool(fs) and fs[-1].get("group") == "after")
        # The bound held: the queue's frames (and the one the pump had in hand) came, in order;
        # the rest were dropped, never sent late.
        keys = flood(frames)
        assert keys == [str(n) for n in range(len(keys))]
        assert hub.queue_frames <= len(keys) <= hub.queue_frames + 1


async def test_motia_dev_refuses_operator_requests_from_pages_on_other_sites() -> None:
    async with MotiaTestApp(FIXTURES / "cron") as app:
        evil = await app.post("/__motia/dlq/purge", headers={"Origin": "https://evil.example"})
        assert evil.status == 403 and "cors_origins" in evil.json["message"]
        assert (await app.post("/emit", json={"topic": "ticked"}, headers={
            "Origin": "https://evil.example", "Content-Type": "text/plain"})).status == 403
        local = await app.post("/__motia/dlq/purge", headers={"Origin": "http://localhost:5173"})
        assert local.status == 200  # motia dev grants localhost pages
        same = await app.post("/__motia/dlq/purge",
                              headers={"Origin": f"http://127.0.0.1:{app.port}"})
        assert same.status == 200
        assert (await app.post("/__motia/dlq/purge")).status == 200  # curl sends no Origin
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(f"http://127.0.0.1:{app.port}{API}/live",
                                         headers={"Origin": "https://evil.example"})
