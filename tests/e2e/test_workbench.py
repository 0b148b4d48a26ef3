"""The Workbench in a real Chromium against the real `motia dev` on examples/polyglot.

Each test starts `motia dev` on a copy of the example (its .motia/ starts empty and stays out of
the repository), opens the Workbench at /__motia/ and uses it as a person would: the Flows graph,
a request sent from Endpoints followed into its trace and the trace's logs, a state value edited
and read back by the next request, a dead letter replayed after the step is fixed, a trace that
survives a restart, live stream items, the runners. Every page is saved as a PNG into
$MOTIA_SCREENSHOTS (the README's pictures) or the test's tmp_path.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from tests.conftest import require_runtime
from tests.e2e.browser import Browser
from tests.e2e.cli import REPO, free_port, start, stop
from tests.e2e.workbench_page import WorkbenchPage, js

POLYGLOT = REPO / "examples" / "polyglot"
STREAMING = REPO / "examples" / "streaming-progress"
TRIAGE = Path("steps") / "tickets" / "triage_step.py"
TICKET = {"title": "Site is down", "body": "Nobody can log in since 9:00",
          "customer": "ada@example.com"}

pytestmark = [pytest.mark.e2e, pytest.mark.anyio, pytest.mark.timeout(180)]


@dataclass
class Workbench:
    page: WorkbenchPage
    project: Path
    port: int
    server: subprocess.Popen[str]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True,
                    ignore=shutil.ignore_patterns(".motia", "__pycache__"))
    return target


def screenshots(tmp_path: Path) -> Path:
    configured = os.environ.get("MOTIA_SCREENSHOTS")
    return Path(configured) if configured else tmp_path / "screenshots"


@asynccontextmanager
async def workbench(tmp_path: Path, project: Path) -> AsyncIterator[Workbench]:
    """`motia dev` on project and a Chromium on its Workbench; both stopped at the end."""
    chromium = require_runtime("chromium")
    require_runtime("node")
    port = free_port()
    server = start("dev", project, port)
    try:
        async with Browser(chromium, tmp_path / "profile") as browser:
            page = WorkbenchPage(browser, f"http://127.0.0.1:{port}/__motia/",
                                 screenshots(tmp_path))
            await page.start()
            yield Workbench(page, project, port, server)
    finally:
        stop(server)


async def http(method: str, url: str, body: object | None = None) -> tuple[int, Any, str | None]:
    """(status, JSON body, trace id header) of one request to the real server."""
    async with aiohttp.ClientSession() as session, session.request(
        method, url, json=body, timeout=aiohttp.ClientTimeout(total=15)
    ) as response:
        return response.status, await response.json(), response.headers.get("x-trace-id")


async def eventually(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    """The first truthy result of the async check, polled under a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await anyio.sleep(0.05)


def expected_steps() -> set[str]:
    """The steps one ticket runs through; SetSla only where Ruby is installed."""
    steps = {"CreateTicket", "TriageTicket", "NotifyTeam"}
    return steps | {"SetSla"} if shutil.which("ruby") else steps


SPANS = """[...document.querySelectorAll('[data-testid=span]')].map(row => ({
    name: row.dataset.name, language: row.dataset.language, status: row.dataset.status,
    left: parseFloat(row.querySelector('.span-bar').style.left),
    events: [...row.querySelectorAll('[data-testid=span-event]')].map(e => ({
        type: e.dataset.type, text: e.querySelector('.event-body').textContent})),
}))"""


async def trace_spans(page: WorkbenchPage, trace_id: str) -> list[dict[str, Any]]:
    """The trace's spans as its page shows them, once every expected step's span has ended."""
    names = js(sorted(expected_steps()))
    await page.wait(
        f"document.querySelector('[data-testid=trace]')?.dataset.traceId === {js(trace_id)} && "
        f"(() => {{ const rows = {SPANS}; const names = rows.map(r => r.name).sort(); "
        f"return JSON.stringify(names) === JSON.stringify({names}) && "
        "rows.every(r => r.status === 'completed') })()",
        f"trace {trace_id} to show the spans {names}, all completed")
    spans: list[dict[str, Any]] = await page.evaluate(SPANS)
    return spans


async def test_flows_page_connects_the_ts_api_step_to_the_python_and_ts_event_steps(
    tmp_path: Path,
) -> None:
    project = copy_project(POLYGLOT, tmp_path / "polyglot")
    async with workbench(tmp_path, project) as wb:
        page = wb.page
        await page.open("flows")
        await page.wait("document.querySelectorAll('[data-testid=flow-node]').length >= 4",
                        "the flow graph")
        nodes = dict(await page.all(
            "[data-testid=flow-node]",
            "[el.dataset.step, [el.dataset.type, el.dataset.language, "
            "el.querySelector('.node-lang-label').textContent]]"))
        assert nodes["CreateTicket"] == ["api", "node", "TypeScript"]
        assert nodes["TriageTicket"] == ["event", "python", "Python"]
        assert nodes["NotifyTeam"] == ["event", "node", "TypeScript"]
        assert await page.value("[data-testid=flow-select]") == "support"

        edges = await page.all("[data-testid=flow-edge]",
                               "[el.dataset.from, el.dataset.to, el.dataset.topic, "
                               "el.querySelector('path').getAttribute('d')]")
        drawn = {(source, target, topic) for source, target, topic, path in edges
                 if path.startswith("M")}
        assert ("CreateTicket", "TriageTicket", "ticket.created") in drawn, edges
        assert ("TriageTicket", "NotifyTeam", "ticket.triaged") in drawn, edges

        await page.click("[data-testid=flow-node][data-step=TriageTicket]")
        await page.wait("document.querySelector('[data-testid=step-panel]')?.dataset.step "
                        "=== 'TriageTicket'", "the TriageTicket panel")
        assert await page.text("[data-testid=step-file]") == TRIAGE.as_posix()
        assert "Python" in await page.text("[data-testid=step-language]")
        config = json.loads(await page.text("[data-testid=step-config]"))
        assert config["name"] == "TriageTicket" and config["subscribes"] == ["ticket.created"]
        # An emit is a topic, or {"topic": ...} once the config is normalised.
        emits = [e if isinstance(e, str) else e["topic"] for e in config["emits"]]
        assert emits == ["ticket.triaged"]
        await page.screenshot("flows")


async def test_a_request_from_endpoints_is_one_trace_across_languages_with_its_logs(
    tmp_path: Path,
) -> None:
    project = copy_project(POLYGLOT, tmp_path / "polyglot")
    async with workbench(tmp_path, project) as wb:
        page = wb.page
        await page.open("endpoints")
        await page.click("[data-testid=endpoint][data-method=POST][data-path='/tickets']")
        await page.wait("document.querySelector('[data-testid=request-form]')?.dataset.path "
                        "=== '/tickets'", "the POST /tickets form")
        prefilled = json.loads(await page.value("[data-testid=request-body]"))
        assert set(prefilled) == {"title", "body", "customer"}, prefilled  # from its zod schema

        await page.fill("[data-testid=request-body]", json.dumps(TICKET))
        await page.click("[data-testid=send-request]")
        status = await page.wait(
            "document.querySelector('[data-testid=response-status]')?.textContent",
            "the response")
        assert status == "201"
        answer = json.loads(await page.text("[data-testid=response-body]"))
        trace_id = await page.evaluate(
            "document.querySelector('[data-testid=response-trace]').dataset.traceId")
        assert answer["status"] == "open" and answer["id"] == trace_id
        await page.screenshot("endpoints")

        # The response's link leads to the trace: one trace, every step, both languages.
        await page.click("[data-testid=response-trace]")
        spans = await trace_spans(page, trace_id)
        names = [span["name"] for span in spans]
        assert names[:2] == ["CreateTicket", "TriageTicket"], names
        by_name = {span["name"]: span for span in spans}
        assert [by_name[n]["language"] for n in ("CreateTicket", "TriageTicket", "NotifyTeam")] \
            == ["node", "python", "node"]
        starts = [by_name[n]["left"] for n in ("CreateTicket", "TriageTicket", "NotifyTeam")]
        assert starts == sorted(starts), f"spans out of order on the timeline: {spans}"

        def kinds(name: str) -> list[str]:
            return [event["type"] for event in by_name[name]["events"]]

        def texts(name: str) -> str:
            return " | ".join(event["text"] for event in by_name[name]["events"])

        # Each span's events in the order the step's code makes them.
        assert kinds("CreateTicket") == ["state", "emit", "log"], texts("CreateTicket")
        assert kinds("TriageTicket") == ["state", "state", "log", "emit"], texts("TriageTicket")
        assert kinds("NotifyTeam") == ["state", "state", "state", "log"], texts("NotifyTeam")
        assert "state.set tickets" in texts("CreateTicket")
        assert "emit ticket.created" in texts("CreateTicket")
        assert "ticket opened" in texts("CreateTicket")
        assert "state.get tickets" in texts("TriageTicket")
        assert "emit ticket.triaged" in texts("TriageTicket")
        assert "ticket triaged" in texts("TriageTicket")
        assert "team notified" in texts("NotifyTeam")
        await page.screenshot("trace")

        # From the trace to its logs: exactly the trace's log lines, and back.
        logged = sorted(event["text"] for span in spans for event in span["events"]
                        if event["type"] == "log")
        await page.click("[data-testid=trace-logs-link]")
        await page.wait(f"document.querySelectorAll('[data-testid=log-row]').length === "
                        f"{len(logged)}", f"{len(logged)} log lines of the trace")
        rows = await page.all("[data-testid=log-row]",
                              "[el.dataset.traceId, "
                              "el.querySelector('[data-testid=log-message]').textContent]")
        assert {trace for trace, _ in rows} == {trace_id}
        messages = sorted(message for _, message in rows)
        assert all(any(m in line for line in logged) for m in messages), (messages, logged)
        wanted = {"ticket opened", "ticket triaged", "team notified"}
        assert wanted | ({"sla set"} if "SetSla" in by_name else set()) == set(messages)
        await page.screenshot("logs")
        await page.click("[data-testid=back-to-trace]")
        await page.wait(f"document.querySelector('[data-testid=trace]')?.dataset.traceId "
                        f"=== {js(trace_id)}", "the way back to the trace")

        # The list: found by search, filtered out by another status.
        await page.open("traces")
        await page.wait(f"document.querySelector('[data-testid=trace-row][data-trace-id="
                        f"{js(trace_id)}]')?.dataset.status === 'completed'",
                        "the trace in the list")
        await page.screenshot("traces")
        await page.fill("[data-testid=trace-status]", "failed")
        await page.wait("document.querySelector('[data-testid=empty]')",
                        "no failed traces")
        await page.fill("[data-testid=trace-status]", "")
        await page.fill("[data-testid=trace-search]", trace_id)
        await page.evaluate("document.querySelector('[data-testid=trace-search]').form"
                            ".requestSubmit()")
        await page.wait(f"(() => {{ const rows = [...document.querySelectorAll("
                        f"'[data-testid=trace-row]')]; return rows.length === 1 && "
                        f"rows[0].dataset.traceId === {js(trace_id)} }})()",
                        "the search to find only the trace")


async def test_a_state_value_edited_in_state_is_what_the_next_request_reads(
    tmp_path: Path,
) -> None:
    project = copy_project(POLYGLOT, tmp_path / "polyglot")
    async with workbench(tmp_path, project) as wb:
        status, ticket, _ = await http("POST", f"{wb.origin}/tickets", TICKET)
        assert status == 201, ticket
        url = f"{wb.origin}/tickets/{ticket['id']}"

        async def assigned() -> bool:
            return (await http("GET", url))[1].get("status") == "assigned"

        await eventually(assigned, "the ticket to be assigned")

        page = wb.page
        await page.open("state/tickets")
        item = f"[data-testid=state-item][data-key={js(ticket['id'])}]"
        await page.click(item)
        await page.wait(f"document.querySelector('[data-testid=state-editor-panel]')?.dataset"
                        f".key === {js(ticket['id'])}", "the value's editor")
        value = json.loads(await page.value("[data-testid=state-editor]"))
        assert value["status"] == "assigned" and value["title"] == TICKET["title"]

        edited = {**value, "status": "escalated", "note": "edited in the Workbench"}
        await page.fill("[data-testid=state-editor]", json.dumps(edited, indent=2))
        await page.click("[data-testid=state-save]")
        await page.wait("document.querySelector('[data-testid=state-saved]')", "the save")
        status, read, _ = await http("GET", url)
        assert (status, read) == (200, edited)
        await page.wait(f"document.querySelector({js(item)})?.textContent.includes('escalated')",
                        "the list to show the saved value")
        await page.screenshot("state")

        await page.click("[data-testid=state-delete]")
        await page.click("[data-testid=state-delete-confirm]")
        await page.wait(f"!document.querySelector({js(item)}) && "
                        "!document.querySelector('[data-testid=state-editor-panel]')",
                        "the deleted key to leave the list")
        status, _, _ = await http("GET", url)
        assert status == 404


async def test_a_failing_event_is_a_dead_letter_replayed_once_the_step_is_fixed(
    tmp_path: Path,
) -> None:
    project = copy_project(POLYGLOT, tmp_path / "polyglot")
    triage = project / TRIAGE
    fixed = triage.read_text()
    broken = fixed.replace(
        '"flows": ["support"],\n}',
        '"flows": ["support"],\n    "infrastructure": {"queue": {"maxRetries": 0}},\n}',
    ).replace(
        "-> None:\n",  # the end of the handler's (typed) signature
        "-> None:\n    raise RuntimeError('the triage model is down')\n",
    )
    assert broken.count("maxRetries") == 1 and "model is down" in broken
    triage.write_text(broken)
    async with workbench(tmp_path, project) as wb:
        page = wb.page
        await page.open("dlq")
        await page.wait("document.querySelector('[data-testid=dlq-empty]')", "no dead letters")

        status, ticket, _ = await http("POST", f"{wb.origin}/tickets", TICKET)
        assert status == 201, ticket
        row = "[data-testid=dlq-row][data-topic='ticket.created']"
        await page.wait(f"document.querySelector({js(row)})",
                        "the dead letter to appear (live)", timeout_s=60)
        assert "the triage model is down" in await page.text(row)
        await page.click(f"{row} [data-testid=dlq-show]")
        detail = await page.text("[data-testid=dlq-detail]")
        assert ticket["id"] in detail and "RuntimeError" in detail
        await page.screenshot("dead-letters")

        async def reloads() -> int:
            return int((await http("GET", f"{wb.origin}/__motia/health"))[1]["reloads"])

        before = await reloads()
        triage.write_text(fixed)
        await eventually(lambda: _more(reloads, before), "the hot reload of the fixed step", 60)
        await page.click(f"{row} [data-testid=dlq-replay]")
        await page.wait("document.querySelector('[data-testid=dlq-empty]')",
                        "the replayed letter to leave the list")

        async def assigned() -> bool:
            answer = await http("GET", f"{wb.origin}/tickets/{ticket['id']}")
            return answer[1].get("status") == "assigned"

        await eventually(assigned, "the replayed event to reach the fixed step", 60)


async def _more(count: Callable[[], Any], than: int) -> bool:
    return bool(await count() > than)


async def test_a_trace_is_still_there_after_the_server_restarts(tmp_path: Path) -> None:
    project = copy_project(POLYGLOT, tmp_path / "polyglot")
    async with workbench(tmp_path, project) as wb:
        status, ticket, trace_id = await http("POST", f"{wb.origin}/tickets", TICKET)
        assert status == 201 and trace_id == ticket["id"]
        await wb.page.open(f"traces/{trace_id}", "page-traces")
        before = await trace_spans(wb.page, trace_id)
        wb.server.send_signal(signal.SIGTERM)
        assert wb.server.wait(timeout=30) == 0, wb.server.communicate()[1]

        port = free_port()
        again = start("dev", project, port)
        try:
            page = WorkbenchPage(wb.page.browser, f"http://127.0.0.1:{port}/__motia/",
                                 wb.page.screenshots)
            await page.open(f"traces/{trace_id}", "page-traces")
            after = await trace_spans(page, trace_id)
            assert [(s["name"], s["language"], s["events"]) for s in after] \
                == [(s["name"], s["language"], s["events"]) for s in before]
            await page.open("traces")
            await page.wait(f"document.querySelector('[data-testid=trace-row][data-trace-id="
                            f"{js(trace_id)}]')", "the trace in the list after the restart")
        finally:
            stop(again)


async def test_runners_page_lists_the_running_language_runners(tmp_path: Path) -> None:
    project = copy_project(POLYGLOT, tmp_path / "polyglot")
    async with workbench(tmp_path, project) as wb:
        await wb.page.open("runners")
        await wb.page.wait("document.querySelectorAll('[data-testid=runner-row]').length >= 2",
                           "the runners")
        runners = dict(await wb.page.all("[data-testid=runner-row]",
                                         "[el.dataset.language, el.dataset.state]"))
        assert runners["node"] == runners["python"] == "READY", runners
        await wb.page.screenshot("runners")


async def test_streams_page_shows_a_jobs_items_live(tmp_path: Path) -> None:
    project = copy_project(STREAMING, tmp_path / "streaming")
    async with workbench(tmp_path, project) as wb:
        page = wb.page
        # Subscribed before the job starts: everything it shows after came over the socket.
        await page.open("streams/progress/jobs")
        await page.wait("document.querySelector('[data-testid=stream-group]')?.dataset"
                        ".connected === 'true'", "the group's live socket")
        await page.evaluate("""(() => {
            window.__seen = []
            new MutationObserver(() => {
                for (const cell of document.querySelectorAll('[data-testid=stream-item-data]'))
                    if (window.__seen.at(-1) !== cell.textContent)
                        window.__seen.push(cell.textContent)
            }).observe(document.body, {subtree: true, childList: true, characterData: true})
        })()""")
        status, started, _ = await http("POST", f"{wb.origin}/jobs", {"items": 40})
        assert status in (200, 201, 202), started
        job = started["watch"]["id"]
        item = f"[data-testid=stream-item][data-id={js(job)}]"
        await page.wait(f"document.querySelector({js(item)})?.textContent"
                        ".includes('\"stage\":\"done\"')", "the job's item to reach done", 60)
        seen: list[str] = await page.evaluate("window.__seen")
        assert any('"stage":"working"' in text for text in seen), seen
        assert '"percent":100' in seen[-1], seen
        await page.screenshot("streams")
