"""The conformance kit against real runners: the three built-ins, the Perl plugin, broken ones.

Every runner here is a real process started the way the core starts it. The built-in runners
and the Perl plugin (examples/runners/perl) must score 100%; deliberately broken runners must
get a scorecard that names each failure precisely: tests/fixtures/runners/broken_runner.py
(wrong version, garbage on stdout) and tests/fixtures/runners/shapes_runner.py (the real Python
runner behind a proxy that breaks one kind of message per mode).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from motia_core.cli.runners import runners
from motia_core.conformance import (
    ExclusionError,
    Outcome,
    ScenarioError,
    Scorecard,
    check_runner,
    conformance_dir,
    load_exclusions,
    load_tiers,
)
from motia_core.conformance.matchers import mismatch
from motia_core.runners.plugins import pin_project, registry_for_project
from motia_core.runners.spec import RunnerRegistry, RunnerSpec, runners_dir
from motia_core.testing import MotiaTestApp
from tests.conftest import FIXTURES, missing, require_runtime

REPO = Path(__file__).resolve().parents[2]
PERL = REPO / "examples" / "runners" / "perl"
BROKEN = FIXTURES / "runners" / "broken_runner.py"
SHAPES = FIXTURES / "runners" / "shapes_runner.py"
SCENARIO_IDS = [s.id for t in load_tiers(conformance_dir() / "scenarios") for s in t.scenarios]

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def require(language: str) -> None:
    if language == "node":
        require_runtime("node")
        if not (runners_dir() / "node" / "node_modules" / "esbuild").is_dir():
            missing("the Node runner's packages", "make install, or npm ci --prefix runners/node")
    elif language != "python":
        require_runtime(language)


def command(script: Path, **env: str) -> RunnerSpec:
    """A test runner speaking for the python fixture steps."""
    return RunnerSpec(language="python", command=(sys.executable, str(script)), patterns=(),
                      env=env, source="test")


def perl_spec() -> RunnerSpec:
    return pin_project(registry_for_project(PERL / "project").get("perl"), PERL / "project")


def assert_perfect(card: Scorecard, claimed: int) -> None:
    assert card.failures() == {}
    assert card.count(Outcome.PASSED) == claimed
    assert card.score == 100.0 and card.ok


# --- the runners that must pass --------------------------------------------------------------


@pytest.mark.parametrize("language", ["python", "ruby", "node"])
async def test_a_builtin_runner_passes_every_scenario(language: str) -> None:
    require(language)
    card = await check_runner(RunnerRegistry.default().get(language))
    assert_perfect(card, len(SCENARIO_IDS))
    assert card.count(Outcome.EXCLUDED) == 0
    assert card.runner is not None and card.runner["runner"]["language"] == language
    assert [t.number for t in card.tiers] == [1, 2, 3, 4, 5, 6, 7]


async def test_the_perl_plugin_passes_the_tiers_it_claims() -> None:
    require("perl")
    exclusions = load_exclusions(PERL / "exclusions.toml", SCENARIO_IDS)
    card = await check_runner(perl_spec(), exclusions=exclusions)
    assert_perfect(card, len(SCENARIO_IDS) - card.count(Outcome.EXCLUDED))
    assert card.runner is not None and card.runner["runner"]["name"] == "motia-perl-runner"


async def test_excluded_scenarios_are_listed_with_their_reason_and_not_run(
        tmp_path: Path) -> None:
    file = tmp_path / "exclusions.toml"
    file.write_text('[exclude]\n"concurrency/*" = "one invocation at a time for now"\n'
                    '"errors/cancel-request" = "cancellation lands in 0.3"\n')
    only = ["concurrency/*", "errors/cancel-request", "handshake/initialize"]
    card = await check_runner(command(SHAPES, SHAPES_MODE="serial"), only=only,
                              exclusions=load_exclusions(file, SCENARIO_IDS))
    assert card.ok and card.score == 100.0  # the serial runner fails concurrency: excluded
    assert card.outcome("handshake/initialize").outcome is Outcome.PASSED
    excluded = {r.id: r.reason for r in card.results if r.outcome is Outcome.EXCLUDED}
    assert excluded["errors/cancel-request"] == \
        "excluded by the exclusions file: cancellation lands in 0.3"
    assert {i for i in excluded if i.startswith("concurrency/")} == {
        i for i in SCENARIO_IDS if i.startswith("concurrency/")}
    assert all(r.duration_ms == 0 for r in card.results if r.outcome is Outcome.EXCLUDED)


# --- deliberately broken runners -------------------------------------------------------------


async def test_a_wrong_protocol_version_is_named_in_every_scenario_it_breaks() -> None:
    card = await check_runner(command(BROKEN, BROKEN_MODE="wrong-version"), only=[
        "handshake/initialize", "handshake/version-refused", "invocation/event"])
    assert card.failures() == {
        "handshake/initialize":
            "initialize (init) for the handshake: result.protocolVersion: expected 1, got 99",
        "handshake/version-refused":
            "initialize (init): expected error code -32006 for protocolVersion 999, got result "
            '{"protocolVersion": 99, "runner": {"language": "test", "name": "broken", '
            '"version": "0"}}',
        "invocation/event": "setup: initialize answered protocolVersion 99; this core speaks [1] "
                            "and refuses the runner",
    }
    assert card.score == 0.0 and not card.ok


async def test_garbage_on_stdout_is_named_with_the_line() -> None:
    card = await check_runner(command(BROKEN, BROKEN_MODE="garbage"),
                              only=["handshake/initialize", "shutdown/exit"])
    reason = ("stdout line 1 is not JSON: 'hello from a runner that forgot about stdout' "
              "(stdout belongs to the protocol: user output goes to stderr)")
    assert card.failures() == {"handshake/initialize": reason, "shutdown/exit": reason}


SHAPE_FAULTS: list[tuple[str, dict[str, str], list[str]]] = [
    # mode, {scenario: the start of its reason}, scenarios that must still pass
    ("load-files-object", {"handshake/load-empty":
        "steps.load result does not match the protocol (LoadResult): Expected `array`, got "
        "`object` - at `$.files`; got {\"files\": {}}"}, []),
    ("invoke-bare-output", {"invocation/cron":
        "step.invoke (cron): result: unexpected key(s) 'ticked', 'traceId' in {\"ticked\": "
        "true, \"traceId\": \"trace-cron\"}"}, ["handshake/load-empty"]),
    ("error-without-code", {"errors/step-not-found":
        "error object of the answer to id 2 does not match the protocol (ErrorObject): Object "
        "missing required field `code`"}, ["invocation/cron"]),
    ("wrong-error-code", {"errors/unknown-method":
        "conformance.noSuchMethod (nope) for an unknown method: error.code: expected -32601, "
        "got -32600"}, ["errors/step-not-found"]),
    ("result-for-bad-params", {"errors/bad-params":
        "step.invoke (no-id): expected error code -32602 for step.invoke without invocationId, "
        "got result {\"ok\": true}"}, ["errors/unknown-method"]),
    ("callback-without-id", {"callbacks/emit":
        "emit callback params do not match the protocol (EmitParams): Object missing required "
        "field `invocationId`; got {\"data\": {\"n\": 5}, \"topic\": \"conformance.echoed\"}"},
     ["invocation/event"]),
    ("log-level-warning", {"callbacks/logs":
        "log notification does not match the protocol (LogParams): Invalid enum value "
        "'warning' - at `$.level`"}, ["callbacks/state"]),
    ("pretty-framing", {"invocation/event": "stdout line 3 is not JSON: '{'"},
     ["handshake/load-empty"]),
    ("answer-wrong-id", {"invocation/event":
        "the runner answered id 1003, which the core never sent or which was already answered"},
     ["handshake/load-configs"]),
    ("exit-1-on-eof", {"shutdown/end-of-input": "at end of input: exit status: expected 0, "
                                                "got 1"}, ["shutdown/idle-shutdown"]),
    ("serial", {"concurrency/out-of-order":
        "expected quick to be answered before slow (a quick invocation must not wait for a slow "
        "one); the runner answered slow first"}, ["concurrency/request-ids"]),
]


@pytest.mark.parametrize(("mode", "failing", "passing"), SHAPE_FAULTS,
                         ids=[fault[0] for fault in SHAPE_FAULTS])
async def test_a_broken_result_shape_fails_exactly_its_scenarios_by_name(
        mode: str, failing: dict[str, str], passing: list[str]) -> None:
    card = await check_runner(command(SHAPES, SHAPES_MODE=mode), only=[*failing, *passing])
    failures = card.failures()
    assert set(failures) == set(failing), failures
    for scenario, reason in failing.items():
        assert failures[scenario].startswith(reason), failures[scenario]


async def test_a_runner_that_serialises_invocations_is_told_why() -> None:
    card = await check_runner(command(SHAPES, SHAPES_MODE="serial"),
                              only=["concurrency/in-flight"])
    assert card.failures() == {"concurrency/in-flight": (
        "the answer to step.invoke (rt-0) did not come within 5s: the core holds its answers to "
        "state.set until 16 calls are in flight at once; only 1 arrived, so the runner does "
        "not run 16 invocations concurrently")}


async def test_the_proxy_itself_breaks_nothing() -> None:
    only = {s for _, failing, passing in SHAPE_FAULTS for s in [*failing, *passing]}
    card = await check_runner(command(SHAPES, SHAPES_MODE="ok"), only=sorted(only))
    assert_perfect(card, len(only))


def test_the_scorecard_renders_reasons_for_people_and_machines() -> None:
    card = CliRunner().invoke(runners, [
        "check", "--language", "python", "--json", "-k", "handshake/initialize", "--",
        sys.executable, str(BROKEN)], env={"BROKEN_MODE": "wrong-version"})
    assert card.exit_code == 1, card.output
    payload = json.loads(card.output)
    assert payload["ok"] is False and payload["failed"] == 1 and payload["score"] == 0.0
    (scenario,) = payload["tiers"][0]["scenarios"]
    assert scenario == {"id": "handshake/initialize", "outcome": "failed",
                        "title": scenario["title"], "durationMs": scenario["durationMs"],
                        "reason": "initialize (init) for the handshake: result.protocolVersion: "
                                  "expected 1, got 99"}
    buffer = io.StringIO()
    scorecard = Scorecard("python", ("python", "x"), (), None)
    scorecard.render(Console(file=buffer, width=200))
    assert "score 100.0%" in buffer.getvalue()


# --- the CLI ---------------------------------------------------------------------------------


def test_check_by_language_name_finds_a_runner_registered_in_motia_toml() -> None:
    require("perl")
    result = CliRunner().invoke(runners, ["check", "perl", "--project", str(PERL / "project"),
                                          "--tier", "handshake", "--tier", "6", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["language"] == "perl" and payload["ok"] is True
    assert payload["command"] == ["perl", f"{PERL / 'project'}/../runner.pl"]
    assert [t["tier"] for t in payload["tiers"]] == [1, 6]
    human = CliRunner().invoke(runners, ["check", "perl", "--project", str(PERL / "project"),
                                         "-k", "handshake/initialize"])
    assert human.exit_code == 0 and "motia-perl-runner" in human.output


@pytest.mark.parametrize(("args", "expected"), [
    (["check", "cobol"], "'cobol' is not a registered runner (python, node, ruby); to check a "
                         "command, say which fixture steps it runs"),
    (["check", "python", "--tier", "nine"], "unknown tier(s) nine; the tiers are 1 (handshake)"),
    (["check", "--language", "cobol", "--", "true"], "no fixture steps for 'cobol'"),
])
def test_check_usage_errors_say_what_to_do(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(runners, args)
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())


# --- the kit's own parts ---------------------------------------------------------------------


def test_an_exclusions_file_that_names_no_scenario_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "x.toml"
    file.write_text('[exclude]\n"errors/cancel-requests" = "typo"\n')
    with pytest.raises(ExclusionError, match="'errors/cancel-requests' matches no scenario"):
        load_exclusions(file, SCENARIO_IDS)
    file.write_text('[exclude]\n"errors/*" = ""\n')
    with pytest.raises(ExclusionError, match="needs a reason"):
        load_exclusions(file, SCENARIO_IDS)
    file.write_text('exclude = ["errors/*"]\n')
    with pytest.raises(ExclusionError, match="expected one table `exclude`"):
        load_exclusions(file, SCENARIO_IDS)
    result = CliRunner().invoke(runners, ["check", "python", "--exclude", str(file)])
    assert result.exit_code == 2 and "expected one table" in result.output


@pytest.mark.parametrize(("scenario", "expected"), [
    ({"id": "x", "title": "t", "actions": [{"await": "a"}]},
     "scenario 'x', action 1: await needs exactly one of result or error"),
    ({"id": "x", "title": "t", "actions": [{"awaitt": "a", "result": 1}]},
     "scenario 'x', action 1: needs exactly one of request, notify"),
    ({"id": "x", "title": "t", "actions": [{"await": "a", "result": {"$type": "text"}}]},
     "$result: $type takes one of ['array', 'boolean'"),
    ({"id": "x", "title": "t", "actions": [{"invoke": "a", "trigger": "http"}]},
     "action 1 (invoke): Invalid enum value 'http' - at `$.trigger`"),
    ({"id": "x", "title": "t", "actions": [], "requires": ["telepathy"]},
     "scenario 'x': Invalid enum value 'telepathy' - at `$.requires[0]`"),
])
def test_a_malformed_scenario_fails_at_load_naming_file_scenario_and_action(
        tmp_path: Path, scenario: dict[str, Any], expected: str) -> None:
    (tmp_path / "1-x.json").write_text(json.dumps(
        {"tier": 1, "name": "x", "title": "X", "scenarios": [scenario]}))
    with pytest.raises(ScenarioError) as caught:
        load_tiers(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / "1-x.json"))
    assert expected in str(caught.value)


@pytest.mark.parametrize(("expected", "actual", "reason"), [
    ({"a": 1}, {"a": 1}, None),
    ({"a": 1}, {"a": True}, "$.a: expected 1, got true"),
    ({"a": 1}, {"a": 1, "b": 2}, "$: unexpected key(s) 'b' in {\"a\": 1, \"b\": 2}"),
    ({"$subset": {"a": {"$type": "integer"}}}, {"a": 1.5, "b": 2},
     "$.a: expected integer, got 1.5"),
    ({"x": {"$optional": 1}}, {}, None),
    ({"$subset": {"x": {"$absent": True}}}, {"x": None}, "$.x: expected no such key, got null"),
    ({"$regex": "^ab"}, "xab", "$: expected a string matching /^ab/, got \"xab\""),
    ({"$unordered": [1, 2]}, [2, 1], None),
    ({"$contains": [{"n": 2}]}, [{"n": 1}], "$: no element matches {\"n\": 2} in [{\"n\": 1}]"),
    ({"$oneOf": [1, "1"]}, "1", None),
    ([1, 2], [1], "$: expected an array of 2, got 1: [1]"),
    ({"a": {"$any": True}}, {}, None),
    ({"$exact": {"$type": "string"}}, {"$type": "string"}, None),
])
def test_matchers_say_where_and_what(expected: Any, actual: Any, reason: str | None) -> None:
    assert mismatch(expected, actual) == reason


# --- through the real app --------------------------------------------------------------------


async def test_the_perl_plugin_runs_in_a_flow_with_python_steps(tmp_path: Path) -> None:
    require("perl")
    shutil.copytree(PERL, tmp_path / "perl")
    root = tmp_path / "perl" / "project"
    async with MotiaTestApp(root, registry=registry_for_project(root)) as app:
        assert not app.app.project.errors  # type: ignore[union-attr]
        assert {s.name: s.language for s in app.app.project.steps} == {  # type: ignore[union-attr]
            "Greet": "python", "Shout": "perl", "Record": "python"}
        response = await app.post("/greetings", json={"name": "ann"})
        assert response.status == 202, response.text
        greeting_id = response.json["id"]
        await app.settle()
        assert await app.state.get("shouted", greeting_id) == "HELLO, ANN!"
        assert await app.state.get("recorded", greeting_id) == {
            "text": "HELLO, ANN!", "traceId": greeting_id}
        assert [(e.topic, e.trace_id) for e in app.events] == [
            ("greeting.requested", greeting_id), ("greeting.shouted", greeting_id)]
        found = await app.app.traces.get_trace(greeting_id)
        assert found is not None
        spans = {s.name: s for s in found[1]}
        assert spans["Shout"].parent_id == spans["Greet"].id
        assert spans["Record"].parent_id == spans["Shout"].id
        logs = {e.message for s in found[1] for e in s.events  # type: ignore[union-attr]
                if getattr(e, "message", None)}
        assert {"shouted in Perl", "recorded in Python"} <= logs
