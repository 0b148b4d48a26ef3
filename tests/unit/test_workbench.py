"""The Workbench's pure parts: the flow graph, the CORS and operator policies, the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from motia_core.config import Settings, SettingsError
from motia_core.http.policy import (
    CorsPolicy,
    OperatorPolicy,
    is_loopback,
    is_operator_request,
    is_same_origin,
)
from motia_core.project.steps import Step, parse_step
from motia_core.workbench import endpoints, flow_graph

ROOT = Path("/project").resolve()


def step(file: str, config: dict[str, Any], language: str = "python") -> Step:
    return parse_step(str(ROOT / file), language, config, has_handler=config["type"] != "noop")


STEPS = [
    step("steps/create.step.ts", {
        "type": "api", "name": "Create", "path": "/orders", "method": "POST",
        "emits": ["order.created", "audit"], "flows": ["orders"],
        "bodySchema": {"type": "object"}, "responseSchema": {"201": {"type": "object"}},
        "virtualEmits": ["manual.review"]}, "node"),
    step("steps/enrich_step.py", {
        "type": "event", "name": "Enrich", "subscribes": ["order.created"],
        "emits": ["order.enriched"], "flows": ["orders"]}),
    step("steps/review_step.py", {
        "type": "noop", "name": "Review", "virtualSubscribes": ["manual.review"],
        "virtualEmits": [], "flows": ["orders", "ops"]}),
    step("steps/legacy_step.py", {
        "type": "event", "name": "Legacy", "subscribes": ["order.v1"], "emits": []}),
]


def test_edges_come_from_emits_and_subscribes_and_orphans_are_flagged() -> None:
    graph = flow_graph(STEPS, ROOT, {str(ROOT / "steps/broken_step.py"): ["no handler"]})
    assert graph["flows"] == ["orders", "ops"]
    assert {(e["from"], e["to"], e["topic"], e["virtual"]) for e in graph["edges"]} == {
        ("steps/create.step.ts", "steps/enrich_step.py", "order.created", False),
        ("steps/create.step.ts", "steps/review_step.py", "manual.review", True),
    }
    orphans = {t["topic"]: t["orphan"] for t in graph["topics"]}
    assert orphans == {"audit": "no-subscriber", "manual.review": None,
                       "order.created": None, "order.enriched": "no-subscriber",
                       "order.v1": "no-emitter"}
    steps = {s["id"]: s for s in graph["steps"]}
    create = steps["steps/create.step.ts"]
    assert (create["type"], create["language"], create["method"], create["path"]) == (
        "api", "node", "POST", "/orders")
    assert create["config"]["name"] == "Create" and create["loaded"] is True
    broken = steps["steps/broken_step.py"]
    assert broken["loaded"] is False and broken["error"] == "no handler"


def test_endpoints_list_api_steps_with_their_schemas() -> None:
    [only] = endpoints(STEPS, ROOT)
    assert only["stepId"] == "steps/create.step.ts" and only["method"] == "POST"
    assert only["bodySchema"] == {"type": "object"}
    assert only["responseSchema"] == {"201": {"type": "object"}}
    assert only["queryParams"] is None and only["flows"] == ["orders"]


@pytest.mark.parametrize(("origins", "origin", "grant"), [
    ((), "http://localhost:5173", None),
    (("localhost",), "http://localhost:5173", "credentials"),
    (("localhost",), "http://127.0.0.1:3000", "credentials"),
    (("localhost",), "http://[::1]:3000", "credentials"),
    (("localhost",), "http://localhost.evil.example", None),
    (("localhost",), "https://evil.example", None),
    (("https://ops.example/",), "https://OPS.example", "credentials"),
    (("*",), "https://evil.example", "any"),
    (("*",), "null", None),
])
def test_cors_grants(origins: tuple[str, ...], origin: str, grant: str | None) -> None:
    assert CorsPolicy(origins).grant(origin) == grant


def test_operator_requests_and_their_policy() -> None:
    assert is_operator_request("POST", "/emit")
    assert is_operator_request("DELETE", "/__motia/api/state/g/k")
    assert not is_operator_request("GET", "/__motia/dlq")
    assert not is_operator_request("POST", "/orders")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("192.168.1.5") and not is_loopback(None)
    assert is_same_origin("http://127.0.0.1:3000/", "127.0.0.1:3000")
    assert not is_same_origin("http://127.0.0.1:3001", "127.0.0.1:3000")
    assert not is_same_origin("https://evil.example", None)
    dev = OperatorPolicy(open=True, token="t")
    assert dev.refusal(None, "127.0.0.1") is None
    assert dev.refusal(None, "192.168.1.5") is not None  # dev is open to this machine only
    assert dev.refusal("Bearer t", "192.168.1.5") is None
    start = OperatorPolicy(open=False, token="t")
    assert start.refusal("bearer t") is None
    assert start.refusal("Bearer wrong") is not None and start.refusal(None) is not None
    assert "MOTIA_ADMIN_TOKEN" in (OperatorPolicy(open=False).refusal("Bearer t") or "")


def test_settings_sections(tmp_path: Path) -> None:
    (tmp_path / "motia.toml").write_text(
        '[http]\ncors_origins = ["https://ops.example"]\n[admin]\ntoken = "s3cret"\n'
        '[workbench]\nenabled = true\n[observability]\nstore = "memory"\nmax_traces = 5\n'
        'retention_hours = 0.5\n')
    settings = Settings.load(tmp_path, {"MOTIA_MAX_LOGS": "7"})
    assert settings.cors_origins == ("https://ops.example",)
    assert (settings.admin_token, settings.workbench, settings.observability) == (
        "s3cret", True, "memory")
    assert (settings.max_traces, settings.max_logs, settings.retention_hours) == (5, 7, 0.5)
    with pytest.raises(SettingsError, match="max_traces"):
        Settings.load(tmp_path, {"MOTIA_MAX_TRACES": "many"})
