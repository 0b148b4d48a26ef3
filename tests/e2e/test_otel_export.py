"""OpenTelemetry export against a real OTLP/HTTP receiver, from a real `motia start`.

The receiver (tests/otlp_receiver.py) decodes what the official SDK's OTLP exporter sends with
the official ``opentelemetry-proto`` package; nothing is mocked. examples/polyglot runs under
`motia start` with the standard ``OTEL_*`` variables pointing at it; one request with a
``traceparent`` must come out as one trace: the caller's span -> the api span (TypeScript) -> the
event span (Python) -> the next event span (TypeScript), with the state and emit operations as
events on the span that made them, and the response's ``traceparent`` naming the api span.

Also here: with export off, the core never imports the OpenTelemetry SDK.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import pytest

from motia_core.observability import w3c_trace_id
from tests.conftest import missing, require_runtime
from tests.e2e.cli import REPO, free_port, start, stop
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

POLYGLOT = REPO / "examples" / "polyglot"
OUTSIDE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"
STEPS = ("CreateTicket", "TriageTicket", "NotifyTeam", "SetSla")

pytestmark = [pytest.mark.e2e, pytest.mark.anyio, pytest.mark.timeout(120)]


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    found = await OtlpReceiver().start()
    try:
        yield found
    finally:
        await found.stop()


def polyglot_copy(tmp_path: Path) -> Path:
    require_runtime("node")
    require_runtime("ruby")
    if not (POLYGLOT / "node_modules" / "zod").is_dir():
        missing("the example's npm packages", "make install, or npm ci --prefix examples/polyglot")
    return Path(shutil.copytree(POLYGLOT, tmp_path / "polyglot", symlinks=True,
                                ignore=shutil.ignore_patterns(".motia", "__pycache__")))


def otel_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="motia-otel-test",
               OTEL_BSP_SCHEDULE_DELAY="50")  # export each batch within 50 ms, not 5 s
    return env


def events(span: ReceivedSpan, name: str) -> list[dict[str, object]]:
    return [e.attributes for e in span.events if e.name == name]


async def test_one_request_is_one_exported_trace_across_typescript_and_python(
        tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = polyglot_copy(tmp_path)
    port = free_port()
    server = await anyio.to_thread.run_sync(
        lambda: start("start", project, port, env=otel_env(receiver.url)))
    try:
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{port}/tickets",
                json={"title": "Site is down", "body": "Nobody can log in",
                      "customer": "ada@example.com"},
                headers={"traceparent": f"00-{OUTSIDE}-{CALLER}-01",
                         "tracestate": "vendor=abc"}) as response:
            assert response.status == 201, await response.text()
            traceparent = response.headers["traceparent"]
            assert response.headers["x-trace-id"] == OUTSIDE

        def complete(spans: list[ReceivedSpan]) -> bool:
            return {s.name for s in spans} >= {*STEPS, "emit ticket.created",
                                                "emit ticket.triaged"}

        await receiver.wait_for(complete)
    finally:
        stop(server)
    assert receiver.bad == []
    spans = receiver.spans
    assert {s.trace_id for s in spans} == {OUTSIDE}, "one trace, the caller's"
    by_name = {s.name: s for s in spans}
    assert len(by_name) == len(spans), [s.name for s in spans]  # each exported once
    api, triage, notify, sla = (by_name[name] for name in STEPS)

    # The caller's span -> the api span (TypeScript), which the response names.
    assert api.parent_id == CALLER
    assert traceparent == f"00-{OUTSIDE}-{api.span_id}-01"
    assert api.kind == "SERVER" and api.status == "OK"
    assert api.attributes["motia.step.language"] == "node"
    assert api.attributes["motia.step.type"] == "api"
    assert api.attributes["http.request.method"] == "POST"
    assert api.attributes["http.route"] == "/tickets"
    assert api.attributes["motia.flows"] == ("support",)
    assert api.attributes["motia.runner"].startswith("node#")
    assert events(api, "state.set") == [{"motia.state.group": "tickets",
                                          "motia.state.key": OUTSIDE}]
    assert events(api, "emit") == [{"motia.topic": "ticket.created", "motia.emit.success": True}]
    assert [e["log.message"] for e in events(api, "log")] == ["ticket opened"]

    # -> the emit span -> the event span (Python) -> the next event spans (TypeScript, Ruby).
    created = by_name["emit ticket.created"]
    assert created.kind == "PRODUCER" and created.parent_id == api.span_id
    assert triage.parent_id == api.span_id
    assert triage.kind == "CONSUMER" and triage.attributes["motia.step.language"] == "python"
    assert triage.attributes["motia.topic"] == "ticket.created"
    assert [e.name for e in triage.events if e.name != "log"] == ["state.get", "state.set",
                                                                  "emit"]
    assert events(triage, "emit") == [{"motia.topic": "ticket.triaged",
                                       "motia.emit.success": True}]
    assert by_name["emit ticket.triaged"].parent_id == triage.span_id
    for follower, language in ((notify, "node"), (sla, "ruby")):
        assert follower.parent_id == triage.span_id
        assert follower.attributes["motia.step.language"] == language
        assert follower.attributes["motia.topic"] == "ticket.triaged"
    assert events(notify, "state.set"), "NotifyTeam's state writes are on its own span"

    # Every span: the service name from OTEL_SERVICE_NAME, timestamps in order.
    for span in spans:
        assert span.resource["service.name"] == "motia-otel-test"
        assert span.scope == "motia-core"
        assert 0 < span.start_ns <= span.end_ns
    assert api.start_ns <= triage.start_ns <= notify.start_ns


async def test_a_request_without_traceparent_is_a_root_server_span(
        tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = polyglot_copy(tmp_path)
    port = free_port()
    server = await anyio.to_thread.run_sync(
        lambda: start("start", project, port, env=otel_env(receiver.url)))
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/tickets/no-such-ticket") as response:
            assert response.status == 404
        await receiver.wait_for(lambda spans: any(s.name == "GetTicket" for s in spans))
    finally:
        stop(server)
    get = next(s for s in receiver.spans if s.name == "GetTicket")
    assert get.status == "OK"  # a 404 the handler chose is not a failure of the step
    assert get.parent_id is None and get.kind == "SERVER"
    # The Motia trace id steps see, and the W3C id it maps to (observability/ids.py).
    assert get.trace_id == w3c_trace_id(get.attributes["motia.trace_id"])
    assert get.attributes["http.route"] == "/tickets/:id"


# What the exporter brings in; the core imports none of it while export is off. Nor redis-py
# while nothing is on Redis (redis-py 8 loads opentelemetry's metrics SDK by itself when that is
# installed, and takes a good part of the start-up).
SDK_MODULES = ("opentelemetry", "redis")


def test_with_export_off_the_core_never_imports_the_sdk(tmp_path: Path) -> None:
    """Building the whole app (runners are not started) imports no OpenTelemetry module and no
    redis-py; with the endpoint set it imports the SDK, with a Redis queue redis-py."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from motia_core.cli import main\n"
        "from motia_core.config import Settings\n"
        "from motia_core.runtime.app import App\n"
        "app = App(Settings.load(Path(sys.argv[1])))\n"
        f"print(sorted(m for m in sys.modules if m.startswith({SDK_MODULES!r})))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    project = tmp_path / "empty"
    (project / "steps").mkdir(parents=True)

    def imported(extra: dict[str, str]) -> str:
        done = subprocess.run([sys.executable, "-c", script, str(project)], env={**env, **extra},
                              capture_output=True, text=True, timeout=60, check=False, cwd=REPO)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert imported({}) == "[]"
    on = imported({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert "opentelemetry.sdk.trace" in on and "opentelemetry.exporter.otlp" in on
    (project / "motia.toml").write_text('[otel]\nendpoint = "http://127.0.0.1:9"\n')
    assert "opentelemetry.sdk.trace" in imported({})  # motia.toml turns it on too
    assert imported({"OTEL_SDK_DISABLED": "true"}) == "[]"
    (project / "motia.toml").unlink()
    on_redis = imported({"MOTIA_QUEUE": "redis", "MOTIA_REDIS_URL": "redis://127.0.0.1:9"})
    assert "redis" in on_redis  # the queue on Redis loads redis-py (so this check can fail)
