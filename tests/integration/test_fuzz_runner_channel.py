"""Bad input from a runner, tried for real: a fake runner throws malformed JSON-RPC at the core.

The fuzz runner (tests/fixtures/runners/fuzz_runner.py) is a real process on a real pipe, the
core a real app (MotiaTestApp). Each case is one write of the runner with what the core must do:
answer with a given error (or a result), ignore it, or treat the runner as broken (restart it and
fail its pending requests with RunnerCrashed naming the cause). After every case the runner probes
the core with a valid call, so a case that breaks the endpoint fails right where it happened.

What the core does, case by case:

    `jsonrpc` not "2.0", `method` not a string                InvalidRequest to the id
    JSON that is not an object (or is a batch), an id that
      is an object, array, float or bool (or no id at all)    InvalidRequest, id null
    an unknown method, or one the core does not serve         MethodNotFound
    params of the wrong shape or type, or missing a field     InvalidParams naming the field
    extra params fields                                       ignored (forward compatibility)
    a callback for an invocation that is not running          InvocationNotFound
    params that are not valid UTF-8                           ParseError to the id
    a notification with bad params or an unknown method       nothing (logged)
    a response to an id the core never sent, or a repeat      nothing (an invalid one: logged)
    an invalid response to a pending request                  that request fails, InvalidRequest
    a line of whitespace                                      nothing
    an error answer that would exceed the size limit          its message shortened
    an id so long that no answer fits                         nothing (logged)
    not JSON, truncated, invalid UTF-8 in the envelope,       a broken runner: restarted, its
      nested past the decoder's depth, over the size limit    pending requests fail RunnerCrashed

The seeded cases print their seed; FUZZ_SEED=<seed> reproduces (or varies) them.
"""

from __future__ import annotations

import base64
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from motia_core.errors import (
    InvalidParams,
    InvalidRequest,
    InvocationNotFound,
    MethodNotFound,
    ParseError,
    RunnerCrashed,
)
from motia_core.invocation import StepFailed
from motia_core.observability import new_trace_id
from motia_core.protocol import DEFAULT_MAX_MESSAGE_BYTES, METHODS
from motia_core.runners import RunnerRegistry, RunnerSpec
from motia_core.testing import MotiaTestApp

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

SEED = int(os.environ.get("FUZZ_SEED", "20240611"))
RANDOM_CASES = 300
LIMIT = DEFAULT_MAX_MESSAGE_BYTES
FUZZ_RUNNER = Path(__file__).resolve().parents[1] / "fixtures" / "runners" / "fuzz_runner.py"
INV = "$INV"  # the fuzz runner puts the running invocation's id here
_ABSENT = object()
_ANY = object()

# One valid params object per method a runner may call (the test fails when one is added).
VALID: dict[str, dict[str, Any]] = {
    "state.get": {"invocationId": INV, "group": "fz", "key": "k"},
    "state.set": {"invocationId": INV, "group": "fz", "key": "k", "value": {"n": 1}},
    "state.delete": {"invocationId": INV, "group": "fz", "key": "gone"},
    "state.getGroup": {"invocationId": INV, "group": "fz"},
    "state.clear": {"invocationId": INV, "group": "fz-empty"},
    "emit": {"invocationId": INV, "topic": "fuzz.noop", "data": {"x": 1}},
    "streams.get": {"invocationId": INV, "stream": "fz", "group": "g", "id": "i"},
    "streams.set": {"invocationId": INV, "stream": "fz", "group": "g", "id": "i", "data": {"v": 1}},
    "streams.delete": {"invocationId": INV, "stream": "fz", "group": "g", "id": "gone"},
    "streams.getGroup": {"invocationId": INV, "stream": "fz", "group": "g"},
    "streams.send": {"invocationId": INV, "stream": "fz", "channel": {"groupId": "g"},
                     "event": {"type": "t", "data": 1}},
    "log": {"level": "info", "msg": "fuzz", "invocationId": INV},
}
CORE_SERVES = sorted(n for n, m in METHODS.items() if m.direction == "runner->core")
NOT_SERVED = sorted(n for n, m in METHODS.items() if m.direction == "core->runner")
SAMPLES: list[Any] = [5, -1, 1.5, True, [1], {"a": 1}, "text"]


# --- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One answer: a result (``code`` None; ``result`` checked unless _ANY) or an error."""

    id: Any
    code: int | None = None
    mentions: str = ""
    result: Any = _ANY


@dataclass(frozen=True)
class Case:
    name: str
    line: bytes
    answers: tuple[Expect, ...] = ()
    pad: int | None = None

    def wire(self) -> dict[str, Any]:
        wire = {"name": self.name, "line": base64.b64encode(self.line).decode(),
                "answers": len(self.answers)}
        return wire if self.pad is None else {**wire, "pad": self.pad}


def message(**fields: Any) -> bytes:
    return json.dumps({k: v for k, v in fields.items() if v is not _ABSENT}).encode()


def request(request_id: Any, method: Any, params: Any = _ABSENT, jsonrpc: Any = "2.0") -> bytes:
    return message(jsonrpc=jsonrpc, id=request_id, method=method, params=params)


def notification(method: Any, params: Any = _ABSENT) -> bytes:
    return message(jsonrpc="2.0", method=method, params=params)


def fields_of(method: str) -> list[msgspec.structs.FieldInfo]:
    params = METHODS[method].params
    assert params is not None
    return list(msgspec.structs.fields(params))


def wrong_values(field: msgspec.structs.FieldInfo) -> list[Any]:
    """The samples this field refuses (none for an ``Any`` field)."""
    wrong = []
    for value in SAMPLES:
        try:
            msgspec.convert(value, field.type)
        except msgspec.ValidationError:
            wrong.append(value)
    return wrong


class Fuzzer:
    """Seeded cases; each draws its kind, method, id and mutation from one random.Random."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.count = 0
        self.made = 0

    def new_id(self) -> int | str:
        self.count += 1
        return 10_000 + self.count if self.rng.random() < 0.5 else f"c{self.count}"

    def cases(self, n: int) -> list[Case]:
        kinds = [self.bad_params, self.bad_params, self.bad_params, self.envelope,
                 self.unknown_method, self.stray_response, self.bad_notification, self.valid,
                 self.blank, self.bad_utf8]
        cases = []
        for _ in range(n):
            self.made += 1
            cases.append(self.rng.choice(kinds)(f"random {self.made}"))
        return cases

    def bad_params(self, name: str) -> Case:
        rng, request_id = self.rng, self.new_id()
        method = rng.choice(sorted(VALID))
        params: Any = dict(VALID[method])
        typed = [f for f in fields_of(method) if wrong_values(f)]
        mutation = rng.choice(["missing", "wrong type", "extra", "unknown invocation", "shape"])
        expect = Expect(request_id, InvalidParams.CODE)
        if mutation == "missing":
            field = rng.choice([f for f in fields_of(method) if f.required])
            del params[field.encode_name]
            expect = Expect(request_id, InvalidParams.CODE, f"`{field.encode_name}`")
        elif mutation == "wrong type":
            field = rng.choice(typed)
            params[field.encode_name] = rng.choice(wrong_values(field))
            expect = Expect(request_id, InvalidParams.CODE, f"`$.{field.encode_name}`")
        elif mutation == "extra":
            params[f"x{rng.randrange(1000)}"] = rng.choice([*SAMPLES, None])
            expect = Expect(request_id)
        elif mutation == "unknown invocation":
            params["invocationId"] = f"no-such-{rng.randrange(10**6)}"
            expect = Expect(request_id) if method == "log" else \
                Expect(request_id, InvocationNotFound.CODE, "no-such-")
        else:
            params = rng.choice([_ABSENT, None, [], [params], "text", 5])
        return Case(f"{name}: {method} {mutation}", request(request_id, method, params),
                    (expect,))

    def envelope(self, name: str) -> Case:
        rng, request_id = self.rng, self.new_id()
        method = rng.choice(sorted(VALID))
        params = VALID[method]
        flaw = rng.choice(["jsonrpc", "id", "method", "not an object"])
        if flaw == "jsonrpc":
            version = rng.choice(["1.0", "", "2", "2.00", 2, 2.0, None, _ABSENT])
            return Case(f"{name}: jsonrpc {version!r}",
                        request(request_id, method, params, jsonrpc=version),
                        (Expect(request_id, InvalidRequest.CODE, "jsonrpc"),))
        if flaw == "id":
            bad_id = rng.choice([{}, {"id": 1}, [], [1], 1.5, -0.5, True, False])
            return Case(f"{name}: id {bad_id!r}", request(bad_id, method, params),
                        (Expect(None, InvalidRequest.CODE, "id"),))
        if flaw == "method":
            bad_method = rng.choice([5, None, [], ["state.get"], {}, True])
            return Case(f"{name}: method {bad_method!r}", request(request_id, bad_method, params),
                        (Expect(request_id, InvalidRequest.CODE, "method"),))
        line = rng.choice([b"[]", b"1", b"-2.5", b'"x"', b"null", b"true", b"{}",
                           b"[" + request(request_id, method, params) + b"]"])
        return Case(f"{name}: {line[:20]!r}", line, (Expect(None, InvalidRequest.CODE),))

    def unknown_method(self, name: str) -> Case:
        rng, request_id = self.rng, self.new_id()
        made_up = "".join(rng.choice("abc./$_") for _ in range(rng.randrange(1, 12)))
        method = rng.choice([*NOT_SERVED, "", "nope", "state.GET", "State.get", "state.get ",
                             "emit.now", "streams", "$/progress", "rpc.discover", made_up])
        if method in CORE_SERVES:
            method += "!"
        if rng.random() < 0.3:
            return Case(f"{name}: notification {method!r}", notification(method, {"a": 1}))
        return Case(f"{name}: method {method!r}", request(request_id, method, {"a": 1}),
                    (Expect(request_id, MethodNotFound.CODE),))

    def stray_response(self, name: str) -> Case:
        rng = self.rng
        target: Any = rng.choice(["$INIT", "$LOAD", 987_654_321, '"never-sent"', -1, 0])
        body = rng.choice(['"result":null', '"result":{"files":[]}', '"result":[1,2]',
                           '"error":{"code":-32603,"message":"late"}', '"error":{"code":"x"}',
                           '"result":1,"error":{"code":1,"message":"both"}'])
        version = rng.choice(['"2.0"', '"1.0"'])
        line = f'{{"jsonrpc":{version},"id":{target},{body}}}'.encode()
        return Case(f"{name}: response {line!r}", line)

    def bad_notification(self, name: str) -> Case:
        rng = self.rng
        method = rng.choice([*sorted(VALID), "$/cancelRequest"])
        params = rng.choice([_ABSENT, None, [], "text", {"invocationId": 5},
                             {"id": rng.choice([{}, 10**6, "no-such"])}])
        return Case(f"{name}: notification {method} {params!r}", notification(method, params))

    def valid(self, name: str) -> Case:
        request_id = self.new_id()
        method = self.rng.choice(sorted(VALID))
        return Case(f"{name}: valid {method}", request(request_id, method, VALID[method]),
                    (Expect(request_id),))

    def blank(self, name: str) -> Case:
        line = "".join(self.rng.choice(" \t\r") for _ in range(self.rng.randrange(0, 8)))
        return Case(f"{name}: blank {line!r}", line.encode())

    def bad_utf8(self, name: str) -> Case:
        request_id = self.new_id()
        method = self.rng.choice([m for m in sorted(VALID) if m != "log"
                                  and b'"fz"' in request(0, m, VALID[m])])
        junk = self.rng.choice([b"\xff", b"\xfe\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88"])
        line = request(request_id, method, VALID[method]).replace(b'"fz"', b'"f' + junk + b'z"')
        return Case(f"{name}: utf-8 {junk!r} in {method}", line,
                    (Expect(request_id, ParseError.CODE, method),))


def per_method_cases() -> list[Case]:
    """Every runner->core method: each shape of params, each field missing or mistyped."""
    cases = []
    ids = iter(range(1, 10**6))
    for method in sorted(VALID):
        valid = VALID[method]
        for shape in (_ABSENT, None, [], [valid], "text", 5):
            i = next(ids)
            cases.append(Case(f"{method} params {shape!r}"[:80], request(i, method, shape),
                              (Expect(i, InvalidParams.CODE, method),)))
        for field in fields_of(method):
            if field.required:
                i = next(ids)
                params = {k: v for k, v in valid.items() if k != field.encode_name}
                cases.append(Case(f"{method} without {field.encode_name}",
                                  request(i, method, params),
                                  (Expect(i, InvalidParams.CODE, f"`{field.encode_name}`"),)))
            for wrong in wrong_values(field):
                i = next(ids)
                cases.append(Case(f"{method} {field.encode_name}={wrong!r}",
                                  request(i, method, {**valid, field.encode_name: wrong}),
                                  (Expect(i, InvalidParams.CODE, f"`$.{field.encode_name}`"),)))
        i = next(ids)
        cases.append(Case(f"{method} with extra fields",
                          request(i, method, {**valid, "future": [1], "zz": None}), (Expect(i),)))
        if method != "log":
            i = next(ids)
            cases.append(Case(f"{method} for an invocation that is not running",
                              request(i, method, {**valid, "invocationId": "ended-long-ago"}),
                              (Expect(i, InvocationNotFound.CODE, "ended-long-ago"),)))
    return cases


def hand_written_cases() -> list[Case]:
    get = VALID["state.get"]
    nested = {"invocationId": INV, "group": "fz", "key": "deep"}
    send = VALID["streams.send"]
    return [
        Case("empty line", b""),
        Case("spaces", b"    "),
        Case("tabs and a carriage return", b"\t \r"),
        Case("a message ended by CRLF", request(1, "state.get", get) + b"\r", (Expect(1),)),
        Case("set, then get in the same write",
             request(2, "state.set", {**get, "key": "pair", "value": [1, "two"]}) + b"\n" +
             request(3, "state.get", {**get, "key": "pair"}),
             (Expect(2, result=[1, "two"]), Expect(3, result=[1, "two"]))),
        Case("a value of a megabyte round-trips",
             request(4, "state.set", {**get, "key": "big", "value": "$PAD"}),
             (Expect(4, result="x" * 1_000_000),), pad=1_000_000),
        Case("200 levels of nesting are fine",
             request(5, "state.set", {**nested, "value": "$DEEP"}).replace(
                 b'"$DEEP"', b"[" * 200 + b"]" * 200), (Expect(5),)),
        Case("a null id is still a request", request(None, "state.get", get), (Expect(None),)),
        Case("$/cancelRequest sent as a request",
             request(6, "$/cancelRequest", {"id": 1}), (Expect(6, MethodNotFound.CODE),)),
        Case("$/cancelRequest for an id never sent", notification("$/cancelRequest", {"id": 99})),
        Case("a log level that does not exist",
             request(7, "log", {**VALID["log"], "level": "fatal"}),
             (Expect(7, InvalidParams.CODE, "`$.level`"),)),
        Case("a channel whose groupId is a number",
             request(8, "streams.send", {**send, "channel": {"groupId": 5}}),
             (Expect(8, InvalidParams.CODE, "`$.channel.groupId`"),)),
        Case("a stream event without a type",
             request(9, "streams.send", {**send, "event": {"data": 1}}),
             (Expect(9, InvalidParams.CODE, "`type`"),)),
        Case("the same id twice in a row",
             request(10, "state.get", get) + b"\n" + request(10, "state.get", get),
             (Expect(10), Expect(10))),
        Case("a duplicate answer to initialize", b'{"jsonrpc":"2.0","id":$INIT,"result":{}}'),
        Case("a late error for steps.load",
             b'{"jsonrpc":"2.0","id":$LOAD,"error":{"code":-32603,"message":"late"}}'),
        Case("a method name of a megabyte", request(11, "$PAD", {}),
             (Expect(11, MethodNotFound.CODE, "xxxx"),), pad=1_000_000),
        Case("an error answer that would exceed the size limit",
             request(12, "$PAD", {}), (Expect(12, MethodNotFound.CODE, "xxxx"),),
             pad=LIMIT - 80),
        Case("an invocation id near the size limit",
             request(13, "state.get", {**get, "invocationId": "$PAD"}),
             (Expect(13, InvocationNotFound.CODE, "xxxx"),), pad=LIMIT - 120),
        Case("an id too long for any answer to fit", request("$PAD", "nope", {}), pad=LIMIT - 80),
    ]


def check(case: Case, record: dict[str, Any]) -> list[str]:
    """What is wrong with the core's answers to one case (nothing when it behaved)."""
    where = f"case {case.name!r}"
    problems = []
    if record["name"] != case.name:
        return [f"{where}: the runner played {record['name']!r}"]
    got = sorted(record["answers"], key=lambda a: json.dumps(a.get("id")))
    wanted = sorted(case.answers, key=lambda e: json.dumps(e.id))
    if len(got) != len(wanted):
        problems.append(f"{where}: {len(got)} answers, wanted {len(wanted)}: {got!r:.500}")
    for answer, expect in zip(got, wanted, strict=False):
        error = answer.get("error")
        if answer.get("id") != expect.id:
            problems.append(f"{where}: answered id {answer.get('id')!r}, wanted {expect.id!r}")
        if expect.code is None:
            if error is not None or "result" not in answer:
                problems.append(f"{where}: wanted a result, got {answer!r:.500}")
            elif expect.result is not _ANY and answer["result"] != expect.result:
                problems.append(f"{where}: result {answer['result']!r:.200}")
        elif error is None or error.get("code") != expect.code \
                or expect.mentions not in error.get("message", ""):
            problems.append(f"{where}: wanted error {expect.code} mentioning "
                            f"{expect.mentions!r}, got {answer!r:.500}")
    if record["extra"]:
        problems.append(f"{where}: unexpected answers {record['extra']!r:.500}")
    probe = record["probe"]
    if probe is None or "result" not in probe or probe["result"] is not None:
        problems.append(f"{where}: the probe after it got {probe!r:.500}")
    return problems


# --- the project and its runner --------------------------------------------------------------


def fuzz_spec(log: Path) -> RunnerSpec:
    return RunnerSpec(language="fuzz", command=(sys.executable, str(FUZZ_RUNNER)),
                      patterns=("_step.fuzz",), env={"FUZZ_LOG": str(log)}, source="test")


def write_project(root: Path, *, python: bool) -> None:
    steps = root / "steps"
    steps.mkdir(parents=True)
    (steps / "fuzz_api_step.fuzz").write_text(json.dumps({
        "type": "api", "name": "FuzzApi", "path": "/fuzz", "method": "POST",
        "emits": ["fuzz.noop", "tick"]}))
    if not python:
        return
    (steps / "fuzz_event_step.fuzz").write_text(json.dumps({
        "type": "event", "name": "FuzzEvent", "subscribes": ["fuzz.tick"],
        "emits": ["fuzz.noop", "tick"],
        "infrastructure": {"queue": {"maxRetries": 20, "retryDelaySeconds": 0.05}}}))
    (steps / "record_step.py").write_text(
        'config = {"type": "event", "name": "Record", "subscribes": ["tick"], "emits": []}\n\n\n'
        "async def handler(input, ctx):\n"
        '    await ctx.state.set("seen", str(input["n"]), True)\n')


def fuzz_app(tmp_path: Path, *, python: bool = False) -> MotiaTestApp:
    write_project(tmp_path / "project", python=python)
    registry = RunnerRegistry.default()
    registry.register(fuzz_spec(tmp_path / "fuzz.log"))
    return MotiaTestApp(tmp_path / "project", registry=registry)


async def play(app: MotiaTestApp, cases: list[Case], **flags: Any) -> list[dict[str, Any]]:
    response = await app.post("/fuzz", json={"cases": [c.wire() for c in cases], **flags})
    assert response.status == 200, response.text
    results: list[dict[str, Any]] = response.json["results"]
    assert len(results) == len(cases)
    return results


def runner(app: MotiaTestApp) -> Any:
    return app.app.pools["fuzz"].processes[0]


def assert_all_behaved(cases: list[Case], results: list[dict[str, Any]], seed: int) -> None:
    problems = [p for case, record in zip(cases, results, strict=True) for p in check(case, record)]
    assert not problems, f"seed {seed}, {len(problems)} problems:\n" + "\n".join(problems[:30])


# --- the tests -------------------------------------------------------------------------------


def test_the_valid_table_covers_every_method_a_runner_may_call() -> None:
    assert sorted(VALID) == CORE_SERVES


async def test_every_bad_callback_is_answered_and_the_runner_keeps_serving(
    tmp_path: Path,
) -> None:
    print(f"fuzz seed {SEED} (set FUZZ_SEED to change it)")
    random_cases = Fuzzer(SEED).cases(RANDOM_CASES)
    async with fuzz_app(tmp_path) as app:
        pid = runner(app).pid
        for batch in (hand_written_cases(), per_method_cases(), random_cases[:150],
                      random_cases[150:]):
            assert_all_behaved(batch, await play(app, batch), SEED)
        # A duplicate answer to step.invoke, then one in the wrong version: the first counts, the
        # second is dropped; a wrong-version answer fails that invocation, nothing else.
        assert (await play(app, [], answerTwice=True)) == []
        failed = await app.post("/fuzz", json={"cases": [], "answerVersion": "1.0"})
        assert failed.status == 500
        valid = [Case(f"valid {m}", request(i, m, VALID[m]), (Expect(i),))
                 for i, m in enumerate(sorted(VALID))]
        assert_all_behaved(valid, await play(app, valid), SEED)
        assert runner(app).pid == pid and runner(app).restarts == 0


CRASHES = {
    "over the size limit": (
        Case("oversized", b'{"jsonrpc":"2.0","method":"log","params":{"level":"info","msg":"'
                          b'$PAD"}}', pad=LIMIT), "oversized line"),
    "truncated JSON": (
        Case("truncated", request(1, "state.get", VALID["state.get"])[:40]), "not JSON-RPC"),
    "text that is not JSON": (Case("garbage", b"Traceback (most recent call last):"),
                              "not JSON-RPC"),
    "bytes that are not UTF-8": (Case("binary", b"\xff\xfe\x00\x01"), "not UTF-8"),
    "invalid UTF-8 in the method": (
        Case("utf-8 method", request(1, "state.get", VALID["state.get"]).replace(
            b"state.get", b"state.g\xffet")), "not UTF-8"),
    "a lone surrogate escape": (
        Case("surrogate", request(1, "state.get", {"invocationId": "\ud800"})), "not JSON-RPC"),
    "nesting past the decoder's depth": (
        Case("deep", b'{"jsonrpc":"2.0","method":"log","params":' + b"[" * 100_000 +
             b"]" * 100_000 + b"}"), "nested too deeply"),
}


@pytest.mark.parametrize("kind", list(CRASHES))
async def test_a_broken_line_restarts_the_runner_and_fails_its_work_with_runner_crashed(
    tmp_path: Path, kind: str,
) -> None:
    case, cause = CRASHES[kind]
    async with fuzz_app(tmp_path) as app:
        old_pid = runner(app).pid
        step = app.app.project.api_routes[0].step  # type: ignore[union-attr]
        before = Case("before", request(1, "state.set", {**VALID["state.set"], "key": "pre"}),
                      (Expect(1),))
        with pytest.raises(StepFailed) as failed:
            await app.app.invoker.invoke(
                step, "api", {"body": {"cases": [before.wire(), case.wire()]}},
                trace_id=new_trace_id(), parent_span_id=None, entry="fuzz", timeout_s=None)
        error = failed.value.error
        assert isinstance(error, RunnerCrashed), error
        assert cause in error.message and f"pid {old_pid}" in error.message, error.message
        # The new process serves, and what the old one stored before it broke is still there.
        check_state = Case("after", request(2, "state.get", {**VALID["state.get"], "key": "pre"}),
                           (Expect(2),))
        assert_all_behaved([check_state], await play(app, [check_state]), SEED)
        assert runner(app).pid != old_pid and runner(app).restarts == 1
        assert await app.state.get("fz", "pre") == {"n": 1}
        log = [json.loads(line) for line in (tmp_path / "fuzz.log").read_text().splitlines()]
        assert [entry["name"] for entry in log] == ["before", "after"]


async def test_no_accepted_event_is_lost_while_the_runner_is_fuzzed_and_restarted(
    tmp_path: Path,
) -> None:
    """Events flow through a Python step while the fuzz runner is barraged (three times to the
    point of a restart); every event the core accepted, from any side, is processed."""
    fuzzer = Fuzzer(SEED + 1)
    played: dict[str, Case] = {}

    def barrage(*cases: Case) -> list[dict[str, Any]]:
        played.update((case.name, case) for case in cases)
        return [case.wire() for case in cases]

    def emit_case(key: str) -> Case:
        params = {"invocationId": INV, "topic": "tick", "data": {"n": f"fz-{key}"}}
        return Case(f"emit {key}", request(f"emit-{key}", "emit", params), (Expect(f"emit-{key}"),))

    async with fuzz_app(tmp_path, python=True) as app:

        async def plain_events() -> None:
            for n in range(300):
                await app.emit("tick", {"n": n})
                if n % 25 == 0:
                    await anyio.sleep(0)  # let the other producers in

        async def fuzz_events() -> None:
            for k in range(20):
                mark = Case(f"mark {k}", request("mark", "state.set", {
                    "invocationId": INV, "group": "fuzz-seen", "key": str(k), "value": k}),
                    (Expect("mark"),))
                cases = barrage(*fuzzer.cases(10), emit_case(f"e{k}"), mark)
                await app.emit("fuzz.tick", {"key": f"e{k}", "cases": cases})

        async def barrages() -> None:
            for b in range(6):
                cases = barrage(*fuzzer.cases(10), emit_case(f"b{b}"))
                if b % 2:  # every other one ends the runner with a line that is not JSON
                    garbage = Case("garbage", b"not json at all").wire()
                    response = await app.post("/fuzz", json={"cases": [*cases, garbage]})
                    assert response.status == 500
                else:
                    assert (await app.post("/fuzz", json={"cases": cases})).status == 200

        async with anyio.create_task_group() as tg:
            tg.start_soon(plain_events)
            tg.start_soon(fuzz_events)
            tg.start_soon(barrages)
        await app.settle(timeout_s=60)

        assert runner(app).restarts == 3
        # Every event the core accepted (emitted here, or by the runner before it was killed)
        # was processed; the fuzz step's own events all ran, retried after each restart.
        ticks = {e.data["n"] for e in app.events if e.topic == "tick"}
        assert set(range(300)) <= ticks
        assert {f"fz-e{k}" for k in range(20)} | {f"fz-b{b}" for b in range(6)} <= ticks
        missing = [n for n in ticks if await app.state.get("seen", str(n)) is not True]
        assert not missing
        assert sorted(await app.state.get_group("fuzz-seen")) == list(range(20))
        # And every case the runner played, in an event or a request, got its answers.
        log = [json.loads(line) for line in (tmp_path / "fuzz.log").read_text().splitlines()]
        assert {record["name"] for record in log} == set(played)
        assert_all_behaved([played[record["name"]] for record in log], log, SEED + 1)
