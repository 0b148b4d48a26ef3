"""The example's own tests, through motia_core.testing: real runner, real HTTP, memory state."""

from __future__ import annotations

from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.anyio


async def test_an_order_goes_from_pending_to_confirmed() -> None:
    async with MotiaTestApp(PROJECT) as app:
        created = await app.post("/orders", json={"item": "book", "quantity": 2})
        assert created.status == 201
        order = created.json
        assert order["status"] == "pending" and order["id"] == created.trace_id

        await app.settle()
        fetched = await app.get(f"/orders/{order['id']}")
        assert fetched.status == 200
        assert fetched.json == {**order, "status": "confirmed"}
        assert await app.state.get("inventory", "book") == 2
        # the whole chain shares the request's trace
        assert {e.trace_id for e in app.events} == {order["id"]}
        assert [e.topic for e in app.events] == ["order.created", "order.reserved"]


async def test_an_invalid_order_is_refused_with_each_failing_field() -> None:
    async with MotiaTestApp(PROJECT) as app:
        response = await app.post("/orders", json={"item": "", "quantity": 0, "x": 1})
        assert response.status == 400
        paths = {error["path"] for error in response.json["errors"]}
        assert {"/item", "/quantity", "/x"} == paths
        assert app.events == []


async def test_an_unknown_order_is_404() -> None:
    async with MotiaTestApp(PROJECT) as app:
        response = await app.get("/orders/nope")
        assert response.status == 404
        assert response.json == {"error": "no such order"}


async def test_the_daily_report_counts_orders_by_status() -> None:
    async with MotiaTestApp(PROJECT) as app:
        await app.post("/orders", json={"item": "pen", "quantity": 1})
        await app.settle()
        await app.run_cron("DailyReport")
        assert await app.state.get("reports", "latest") == {
            "orders": 1, "byStatus": {"confirmed": 1},
        }
