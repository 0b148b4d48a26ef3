"""The polyglot example end to end: TypeScript api -> Python triage -> TypeScript and Ruby."""

from __future__ import annotations

from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp, missing, require_runtime

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _installed() -> None:
    require_runtime("node")
    require_runtime("ruby")  # the SLA step
    if not (PROJECT / "node_modules" / "zod").is_dir():
        missing("the example's npm packages", "make install, or npm ci --prefix examples/polyglot")


async def test_a_ticket_is_triaged_in_python_and_assigned_in_typescript() -> None:
    async with MotiaTestApp(PROJECT) as app:
        created = await app.post("/tickets", json={
            "title": "Site is down", "body": "Nobody can log in since 9:00",
            "customer": "ada@example.com"})
        assert created.status == 201, created.text
        ticket = created.json
        assert ticket["status"] == "open" and ticket["id"] == created.trace_id

        await app.settle()
        fetched = (await app.get(f"/tickets/{ticket['id']}")).json
        assert fetched["status"] == "assigned"
        assert (fetched["priority"], fetched["team"]) == ("urgent", "platform")
        assert await app.state.get("inbox:platform", ticket["id"]) == {"priority": "urgent"}
        assert await app.state.get("sla", ticket["id"]) == {
            "hours": 1, "team": "platform", "customer": "ada@example.com",
            "traceId": ticket["id"]}

        found = await app.app.traces.get_trace(ticket["id"])
        assert found is not None
        spans = {span.name: span for span in found[1]}
        assert set(spans) == {"CreateTicket", "TriageTicket", "NotifyTeam", "SetSla"}
        assert spans["TriageTicket"].parent_id == spans["CreateTicket"].id
        assert spans["NotifyTeam"].parent_id == spans["TriageTicket"].id
        assert spans["SetSla"].parent_id == spans["TriageTicket"].id


async def test_zod_validation_refuses_a_bad_ticket_with_its_fields() -> None:
    async with MotiaTestApp(PROJECT) as app:
        response = await app.post("/tickets", json={"title": "x", "customer": "nope"})
        assert response.status == 400
        paths = {error["path"] for error in response.json["errors"]}
        assert paths == {"/title", "/body", "/customer"}
        assert app.events == []
        assert (await app.get("/tickets/unknown")).status == 404
