"""Playing one scenario against a fresh runner process and turning it into a verdict.

Setup first (``initialize`` and ``steps.load`` of the scenario's fixture steps, each of which
must succeed, or the scenario fails saying which setup step broke), then the actions in order.
The first thing that does not match ends the scenario with a sentence naming the request, what
was expected and what came instead.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio

from motia_core import __version__
from motia_core.conformance import scenarios as sc
from motia_core.conformance.fakecore import FakeCore
from motia_core.conformance.fixtures import FixtureError, Fixtures, substitute
from motia_core.conformance.launch import open_session
from motia_core.conformance.matchers import MISSING, describe, mismatch
from motia_core.conformance.scorecard import Outcome, ScenarioResult
from motia_core.conformance.session import ScenarioFailed, Sent, Session
from motia_core.protocol import DEFAULT_MAX_MESSAGE_BYTES, PROTOCOL_VERSION
from motia_core.runners.spec import RunnerSpec

__all__ = ("STREAMS", "run_scenario")

log = logging.getLogger("motia.conformance")

# The stream names every scenario's `initialize` announces; the fixture steps use the first.
STREAMS = ("conformance", "conformance-extra")
# A scenario may not run longer than its per-wait timeout times this (a runaway guard).
_SCENARIO_BUDGET_FACTOR = 6


class _Excluded(Exception):
    pass


async def run_scenario(scenario: sc.Scenario, spec: RunnerSpec, fixtures: Fixtures,
                       info: dict[str, Any]) -> ScenarioResult:
    """Run one scenario in a fresh process; ``info`` receives the runner's handshake answer."""
    started = time.monotonic()
    try:
        with anyio.fail_after(scenario.timeout_s * _SCENARIO_BUDGET_FACTOR):
            await _play(scenario, spec, fixtures, info)
    except ScenarioFailed as exc:
        return _result(scenario, Outcome.FAILED, str(exc), started)
    except _Excluded as exc:
        return _result(scenario, Outcome.EXCLUDED, str(exc), started)
    except FixtureError as exc:
        return _result(scenario, Outcome.FAILED, f"fixture: {exc}", started)
    except TimeoutError:
        return _result(scenario, Outcome.FAILED, "the scenario ran past its overall budget of "
                       f"{scenario.timeout_s * _SCENARIO_BUDGET_FACTOR:g}s", started)
    except OSError as exc:
        return _result(scenario, Outcome.FAILED, f"cannot start the runner "
                       f"{' '.join(spec.argv(fixtures.project))!r}: {exc}", started)
    except Exception as exc:  # a bug in the kit: fail this scenario, keep the others
        log.exception("conformance kit error in %s", scenario.id)
        return _result(scenario, Outcome.FAILED,
                       f"kit error (please report): {type(exc).__name__}: {exc}", started)
    return _result(scenario, Outcome.PASSED, "", started)


def _result(scenario: sc.Scenario, outcome: Outcome, reason: str,
            started: float) -> ScenarioResult:
    return ScenarioResult(scenario.id, scenario.tier, scenario.title, outcome, reason,
                          int((time.monotonic() - started) * 1000))


async def _play(scenario: sc.Scenario, spec: RunnerSpec, fixtures: Fixtures,
                info: dict[str, Any]) -> None:
    project = fixtures.project
    core = FakeCore(scenario.core, lambda value: substitute(value, fixtures))
    env = spec.environment(project, f"{spec.language}#conformance")
    async with open_session(spec.argv(project), cwd=project, env=env, core=core) as session:
        player = _Player(scenario, session, fixtures)
        try:
            if scenario.initialize is not False:
                await player.initialize()
            if scenario.load:
                await player.load()
            for action in scenario.actions:
                await player.play(action)
            session.raise_violation()
        finally:
            if isinstance(session.handshake_result, dict):
                info.setdefault("result", session.handshake_result)


class _Player:
    def __init__(self, scenario: sc.Scenario, session: Session, fixtures: Fixtures) -> None:
        self.scenario = scenario
        self.session = session
        self.fixtures = fixtures
        self.labels: dict[str, Sent] = {}
        self.null_seen = 0

    def t(self, value: Any) -> Any:
        return substitute(value, self.fixtures)

    async def answer(self, sent: Sent, what: str, within_s: float | None = None,
                     ) -> dict[str, Any]:
        await self.session.wait(lambda: sent.response is not None, what,
                                within_s or self.scenario.timeout_s)
        assert sent.response is not None
        return sent.response

    # --- setup ---------------------------------------------------------------------------------

    async def initialize(self) -> None:
        params: dict[str, Any] = {
            "protocolVersion": PROTOCOL_VERSION,
            "core": {"name": "motia-core", "version": __version__},
            "projectRoot": str(self.fixtures.project),
            "maxMessageBytes": DEFAULT_MAX_MESSAGE_BYTES, "streams": list(STREAMS)}
        if isinstance(self.scenario.initialize, dict):
            params.update(self.t(self.scenario.initialize))
        self.session.max_message_bytes = int(params["maxMessageBytes"])
        sent = self.session.request("initialize", params)
        response = await self.answer(sent, "the answer to initialize")
        if "error" in response:
            raise ScenarioFailed(f"setup: initialize answered error {_error(response)}")
        result = response["result"]
        if result.get("protocolVersion") != PROTOCOL_VERSION:
            raise ScenarioFailed(
                f"setup: initialize answered protocolVersion {result.get('protocolVersion')!r}; "
                f"this core speaks [{PROTOCOL_VERSION}] and refuses the runner")
        capabilities = result.get("capabilities") or {}
        for capability in self.scenario.requires:
            if capabilities.get(capability) is not True:
                raise _Excluded(f"not claimed: the runner's initialize does not claim the "
                                f"{capability!r} capability")

    async def load(self) -> None:
        files = [self.fixtures.path(name) for name in self.scenario.load]
        sent = self.session.request("steps.load", {"files": files})
        response = await self.answer(sent, "the answer to steps.load")
        if "error" in response:
            raise ScenarioFailed(f"setup: steps.load answered error {_error(response)}")
        entries = response["result"]["files"]
        if [e.get("file") for e in entries] != files:
            raise ScenarioFailed(f"setup: steps.load must answer one entry per file, in order "
                                 f"({files}); got {describe(entries)}")
        for name, entry in zip(self.scenario.load, entries, strict=True):
            if entry.get("error") is not None:
                raise ScenarioFailed(f"setup: fixture step {name!r} failed to load: "
                                     f"{entry['error'].get('message')}")

    # --- actions -------------------------------------------------------------------------------

    async def play(self, action: Any) -> None:
        handler = getattr(self, f"_{type(action).__name__.lower()}")
        await handler(action)

    def _label(self, label: str | None, sent: Sent) -> None:
        self.labels[label if label is not None else str(sent.id)] = sent

    def _sent(self, label: str) -> Sent:
        if label not in self.labels:
            raise ScenarioFailed(f"kit: scenario awaits {label!r}, which no action sent "
                                 f"(labels so far: {sorted(self.labels)})")
        return self.labels[label]

    async def _request(self, action: sc.Request) -> None:
        sent = self.session.request(action.request, self.t(action.params), action.id)
        self._label(action.label, sent)

    async def _notify(self, action: sc.Notify) -> None:
        self.session.notify(action.notify, self.t(action.params))

    async def _raw(self, action: sc.Raw) -> None:
        text = self.t(action.raw)
        if action.label is not None:  # a well-formed request sent raw (an oversized one, say)
            message = json.loads(text)
            self.labels[action.label] = self.session.track(message["id"], message["method"],
                                                           message.get("params"))
        self.session.send_raw(text.encode())

    async def _invoke(self, action: sc.Invoke) -> None:
        label = action.label or action.invocation_id or f"inv-{len(self.labels) + 1}"
        invocation_id = action.invocation_id or label
        params: dict[str, Any] = {
            "invocationId": invocation_id,
            "file": action.file or self.fixtures.path(action.invoke),
            "trigger": action.trigger,
            "trace": action.trace or {"traceId": f"trace-{label}", "spanId": f"span-{label}"},
        }
        if action.input is not sc.UNSET:
            params["input"] = self.t(action.input)
        if action.flows is not None:
            params["flows"] = action.flows
        if action.timeout_ms is not None:
            params["timeoutMs"] = action.timeout_ms
        if action.validate_body is not None:
            params["validateBody"] = action.validate_body
        self.labels[label] = self.session.request("step.invoke", self.t(params))

    async def _await(self, action: sc.Await) -> None:
        if action.await_ == "#null":
            response = await self._null_response(action)
            what = "the answer with id null"
        else:
            sent = self._sent(action.await_)
            what = f"{sent.method} ({action.await_})"
            response = await self.answer(sent, f"the answer to {what}", action.within_s)
        why = f" for {action.why}" if action.why else ""
        if action.error is not sc.UNSET:
            if "error" not in response:
                raise ScenarioFailed(f"{what}: expected error {_expected_code(action.error)}"
                                     f"{why}, got result {describe(response['result'])}")
            reason = mismatch({"$subset": self.t(action.error)}, response["error"], "error")
        else:
            if "error" in response:
                raise ScenarioFailed(f"{what}: expected a result{why}, got error "
                                     f"{_error(response)}")
            reason = mismatch(self.t(action.result), response["result"], "result")
        if reason:
            raise ScenarioFailed(f"{what}{why}: {reason}")

    async def _null_response(self, action: sc.Await) -> dict[str, Any]:
        seen = self.null_seen
        await self.session.wait(lambda: len(self.session.null_responses) > seen,
                                "an error answer with id null", action.within_s
                                or self.scenario.timeout_s)
        self.null_seen += 1
        return self.session.null_responses[seen]

    async def _cancel(self, action: sc.Cancel) -> None:
        target = self._sent(action.cancel).id if isinstance(action.cancel, str) else action.cancel
        self.session.notify("$/cancelRequest", {"id": target})

    async def _waitfor(self, action: sc.WaitFor) -> None:
        expected = self.t(action.params)

        def arrived() -> bool:
            return sum(1 for call in self.session.core.calls if call.method == action.wait_for
                       and mismatch(expected, call.params) is None) >= action.count

        await self.session.wait(arrived, f"{action.count} {action.wait_for} callback(s) "
                                f"matching {describe(expected)}",
                                action.within_s or self.scenario.timeout_s)

    async def _callbacks(self, action: sc.Callbacks) -> None:
        calls = [{"method": c.method, "params": c.params}
                 for c in self.session.core.calls if c.invocation == action.callbacks]
        expected = self.t(action.expect)
        wrapped = {"exact": expected, "any": {"$unordered": expected},
                   "contains": {"$contains": expected}}[action.order]
        reason = mismatch(wrapped, calls, "callbacks")
        if reason:
            raise ScenarioFailed(f"callbacks of invocation {action.callbacks!r}: {reason}")

    async def _logs(self, action: sc.Logs) -> None:
        logs = [entry for entry in self.session.logs
                if entry.get("invocationId", None) == action.logs]
        expected = self.t(action.expect)
        wrapped = expected if action.mode == "exact" else {"$contains": expected}
        reason = mismatch(wrapped, logs, "logs")
        if reason:
            raise ScenarioFailed(f"log notifications of invocation {action.logs!r}: {reason}")

    async def _order(self, action: sc.Order) -> None:
        labels = action.answered_in_order
        sents = [self._sent(label) for label in labels]
        for sent, label in zip(sents, labels, strict=True):
            await self.answer(sent, f"the answer to {label}")
        for i in range(len(sents) - 1):
            if sents[i].answered_at > sents[i + 1].answered_at:
                why = f" ({action.why})" if action.why else ""
                raise ScenarioFailed(f"expected {labels[i]} to be answered before "
                                     f"{labels[i + 1]}{why}; the runner answered "
                                     f"{labels[i + 1]} first")

    async def _closestdin(self, action: sc.CloseStdin) -> None:
        self.session.close_stdin()

    async def _expectexit(self, action: sc.ExpectExit) -> None:
        why = action.why or "the runner's exit"
        await self.session.wait(lambda: self.session.exit_code is not None,
                                f"the runner's exit ({why})", action.within_s
                                or self.scenario.timeout_s)
        reason = mismatch(action.expect_exit, self.session.exit_code, "exit status")
        if reason:
            raise ScenarioFailed(f"{why}: {reason}{self.session.stderr_tail()}")


def _error(response: dict[str, Any]) -> str:
    error = response.get("error") or {}
    return f"{error.get('code')} {describe(error.get('message', MISSING), 200)}"


def _expected_code(expected: Any) -> str:
    code = expected.get("code") if isinstance(expected, dict) else None
    return f"code {code}" if isinstance(code, int) else describe(expected)
