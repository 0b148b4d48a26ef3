"""`motia create` end to end: each template is created, started as `motia dev` would, and driven.

A created TypeScript project needs `npm install` (zod) before it runs. These tests do not reach
the npm registry: they give the project a ``node_modules/zod`` that links to the zod the Node
runner itself installs (runners/node, `npm ci`), which is what `npm install` would put there.

Type checking runs the real TypeScript compiler (tests/fixtures/tsc, `npm ci` there) over a
created project and the ``types.d.ts`` that `motia generate-types` writes: a correct project
passes, a wrong emit topic, emit data or body field fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from motia_core.cli_project import create
from motia_core.create import TEMPLATES_DIR, CreateError, create_project
from motia_core.observability.traces import LogTraceEvent, Span
from motia_core.project import Project
from motia_core.steps import parse_step, parse_stream
from motia_core.testing import MotiaTestApp
from motia_core.typegen import generate_types
from tests.conftest import missing, require_runtime

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "runners" / "node" / "node_modules"
TSC = REPO / "tests" / "fixtures" / "tsc" / "node_modules" / ".bin" / "tsc"
GENERATE_TYPES = ("from motia_core.cli_project import generate_types_command; "
                  "generate_types_command()")

pytestmark = pytest.mark.timeout(90)


def node_ready() -> None:
    """``node`` and the Node runner's packages (skip locally when absent, fail in CI)."""
    require_runtime("node")
    if not (NODE_MODULES / "esbuild").is_dir() or not (NODE_MODULES / "zod").is_dir():
        missing("the Node runner's packages", f"npm ci --prefix {NODE_MODULES.parent}")


def tsc() -> str:
    node_ready()
    if not TSC.is_file():
        missing("the TypeScript compiler", "make test, or npm ci --prefix tests/fixtures/tsc")
    return str(TSC)


def created(tmp_path: Path, template: str) -> Path:
    """A new project from ``template``, installed as its printed install step would."""
    project = create_project(tmp_path / f"my-{template}", template)
    if project.install == "npm install":
        node_ready()
        (project.root / "node_modules").mkdir()
        (project.root / "node_modules" / "zod").symlink_to(NODE_MODULES / "zod",
                                                          target_is_directory=True)
    return project.root


def spans_by_name(spans: list[Span]) -> dict[str, Span]:
    return {span.name: span for span in spans}


def logs(span: Span, level: str) -> list[str]:
    return [e.message for e in span.events if isinstance(e, LogTraceEvent) and e.level == level]


# --- each template runs its flow ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("template", ["default", "python"])
async def test_the_default_flow_sets_state_and_checks_it(template: str, tmp_path: Path) -> None:
    root = created(tmp_path, template)
    async with MotiaTestApp(root, strict=True) as app:
        response = await app.post("/default", json={"message": "hello from the test"})
        assert response.status == 200, response.text
        assert response.json == {"message": "test-state emitted", "traceId": response.trace_id}

        await app.settle()
        trace_id = response.trace_id
        assert trace_id is not None
        assert await app.state.get(trace_id, "message") == "hello from the test"
        assert [e.topic for e in app.events] == ["test-state", "check-state-change"]

        found = await app.app.traces.get_trace(trace_id)
        assert found is not None
        spans = spans_by_name(found[1])
        assert set(spans) == {"ApiTrigger", "SetStateChange", "CheckStateChange"}
        assert spans["CheckStateChange"].parent_id == spans["SetStateChange"].id
        check = spans["CheckStateChange"]
        assert check.status == "completed"
        assert logs(check, "info") == ["Step 03: the state holds the expected value"]
        assert logs(check, "error") == []

        refused = await app.post("/default", json={"text": "no message"})
        assert refused.status == 400
        assert len(app.events) == 2  # nothing emitted for the refused request


@pytest.mark.anyio
async def test_the_polyglot_flow_crosses_typescript_and_python(tmp_path: Path) -> None:
    root = created(tmp_path, "polyglot")
    async with MotiaTestApp(root, strict=True) as app:
        response = await app.post("/greetings", json={"name": "Ada"})
        assert response.status == 202, response.text
        greeting_id = response.json["id"]
        assert response.json == {"id": greeting_id, "status": "requested"}

        await app.settle()
        shown = await app.get(f"/greetings/{greeting_id}")
        assert shown.status == 200
        assert shown.json == {"id": greeting_id, "name": "Ada", "text": "Hello, Ada!",
                              "status": "delivered"}

        found = await app.app.traces.get_trace(greeting_id)
        assert found is not None
        spans = spans_by_name(found[1])
        assert spans["ComposeGreeting"].parent_id == spans["RequestGreeting"].id
        assert spans["DeliverGreeting"].parent_id == spans["ComposeGreeting"].id
        assert {spans[name].status for name in spans} == {"completed"}

        assert (await app.post("/greetings", json={"name": ""})).status == 400
        assert (await app.get("/greetings/nobody")).status == 404


# --- generate-types and the TypeScript compiler ---------------------------------------------------


def run_generate_types(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", GENERATE_TYPES, "--project", str(root)],
                          capture_output=True, text=True, timeout=60, check=False)


def type_check(root: Path) -> subprocess.CompletedProcess[str]:
    # --skipLibCheck false: the generated types.d.ts and the motia types are checked too.
    return subprocess.run([tsc(), "--noEmit", "-p", ".", "--skipLibCheck", "false"], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("template", ["default", "polyglot"])
def test_generate_types_rewrites_the_shipped_types_unchanged(template: str,
                                                              tmp_path: Path) -> None:
    root = created(tmp_path, template)
    shipped = (root / "types.d.ts").read_text()
    (root / "types.d.ts").unlink()
    result = run_generate_types(root)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert (root / "types.d.ts").read_text() == shipped
    assert shipped == (TEMPLATES_DIR / template / "types.d.ts").read_text()

    again = run_generate_types(root)
    assert again.returncode == 0 and "unchanged" in again.stdout


@pytest.mark.parametrize("template", ["default", "polyglot"])
def test_a_created_project_type_checks(template: str, tmp_path: Path) -> None:
    root = created(tmp_path, template)
    result = type_check(root)
    assert result.returncode == 0, result.stdout


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(("template", "file", "old", "new", "complaint"), [
    ("default", "steps/01-api.step.ts", "topic: 'test-state'", "topic: 'test-sate'",
     "'\"test-sate\"' is not assignable"),
    ("default", "steps/01-api.step.ts", "req.body.message", "req.body.mesage",
     "Property 'mesage' does not exist"),
    ("default", "steps/02-test-state.step.ts", "data: { key: 'message', expected: input.message }",
     "data: { key: 'message', expected: 42 }", "'number' is not assignable to type 'string'"),
    ("default", "steps/01-api.step.ts", "message: 'test-state emitted', traceId",
     "message: 'test-state emitted'", "Property 'traceId' is missing"),
    # The emit is checked against the Python subscriber's `input` schema.
    ("polyglot", "steps/request-greeting.step.ts", "data: { id, name: req.body.name }",
     "data: { id }", "Property 'name' is missing"),
])
def test_a_wrong_step_fails_the_type_check(template: str, file: str, old: str, new: str,
                                           complaint: str, tmp_path: Path) -> None:
    root = created(tmp_path, template)
    _edit(root / file, old, new)
    result = type_check(root)
    assert result.returncode != 0
    assert complaint in result.stdout, result.stdout
    assert file in result.stdout


def test_an_emit_nobody_subscribes_to_is_left_out_with_a_warning(tmp_path: Path) -> None:
    root = created(tmp_path, "default")
    _edit(root / "steps/03-check-state-change.step.ts", "emits: [],", "emits: ['audit'],")
    result = run_generate_types(root)
    assert result.returncode == 0, result.stderr
    assert "CheckStateChange emits 'audit', which no step subscribes to" in result.stderr
    assert "'CheckStateChange': EventHandler<{ key: string; expected: string }, never>" \
        in (root / "types.d.ts").read_text()


def test_generate_types_names_a_broken_step_and_exits_1(tmp_path: Path) -> None:
    root = created(tmp_path, "default")
    _edit(root / "steps/02-test-state.step.ts", "subscribes: ['test-state'],", "")
    result = run_generate_types(root)
    assert result.returncode == 1
    assert "02-test-state.step.ts" in result.stderr and "subscribes" in result.stderr
    # The rest is still typed; the api step's topic lost its subscriber.
    text = (root / "types.d.ts").read_text()
    assert "'ApiTrigger': ApiRouteHandler<{ message: string }" in text
    assert "'SetStateChange'" not in text


# --- the command ------------------------------------------------------------------------------


def test_create_prints_the_install_step_and_never_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(create, ["shop", "--template", "polyglot", "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    assert f"cd {tmp_path / 'shop'}" in made.output
    assert "npm install" in made.output and "motia dev" in made.output
    root = tmp_path / "shop"
    assert (root / "types" / "motia" / "index.d.ts").is_file()
    assert '"name": "shop"' in (root / "package.json").read_text()
    assert (root / "README.md").read_text().startswith("# shop\n")

    again = runner.invoke(create, ["shop", "--template", "polyglot", "--dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "already has" in again.output and "package.json" in again.output

    python = runner.invoke(create, ["plain", "-t", "python", "--dir", str(tmp_path)])
    assert python.exit_code == 0, python.output
    assert "npm install" not in python.output
    assert not (tmp_path / "plain" / "package.json").exists()

    bad = runner.invoke(create, ["a/b", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "--dir" in bad.output


def test_an_existing_folder_without_clashes_is_used(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    project = create_project(tmp_path, "python", name="Notes App")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert "steps/api_trigger_step.py" in project.files
    assert (tmp_path / "README.md").read_text().startswith("# Notes App\n")
    with pytest.raises(CreateError, match="there is no template 'rust'"):
        create_project(tmp_path / "other", "rust")


TRICKY_CHECK = """\
import type { FlowContext, Handlers, MotiaStream, FlowContextStateStreams } from 'motia'

type Input = Parameters<Handlers['Tricky']>[0]
type Emits = Parameters<Handlers['Tricky']>[1] extends FlowContext<infer E> ? E : never

export const good: Input = {
  'odd key': "it's",
  pair: ['a', 1],
  rest: ['a', 1, 2, 3],
  maybe: ['a'],
  open: { fixed: 'x', other: 2 },
  tag: 'say "hi"',
  choice: null,
}
// @ts-expect-error a tuple's second element is a number
export const badPair: Input['pair'] = ['a', 'b']
// @ts-expect-error the index signature is number | string
export const badOpen: Input['open'] = { fixed: 'x', other: true }
// @ts-expect-error the literal is exact
export const badTag: Input['tag'] = 'say hi'

export const emitted: Emits = { topic: 'q', data: { n: 1 }, messageGroupId: 'g' }
// @ts-expect-error a FIFO subscriber needs messageGroupId
export const ungrouped: Emits = { topic: 'q', data: { n: 1 } }

export async function useStream(streams: FlowContextStateStreams): Promise<string> {
  const stream: MotiaStream<{ title: string }> = streams['to-do']
  const item = await stream.set('g', 'i', { title: 't' })
  return item.id + item.title
}
"""


def test_tricky_schemas_become_typescript_that_compiles_and_means_what_it_says(
        tmp_path: Path) -> None:
    tuple_of = {"type": "array", "items": [{"type": "string"}, {"type": "number"}], "minItems": 2}
    schema = {
        "type": "object",
        "properties": {
            "odd key": {"type": "string"},
            "pair": tuple_of,
            "rest": {"type": "array", "prefixItems": [{"type": "string"}],
                     "items": {"type": "number"}},
            "maybe": {**tuple_of, "minItems": 1},
            "open": {"type": "object", "properties": {"fixed": {"type": "string"}},
                     "required": ["fixed"], "additionalProperties": {"type": "number"}},
            "tag": {"const": 'say "hi"'},
            "choice": {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]},
        },
        "required": ["odd key", "pair", "rest", "maybe", "open", "tag", "choice"],
    }
    steps = tmp_path / "steps"
    project = Project(root=tmp_path, steps=[
        parse_step(str(steps / "tricky.step.ts"), "node", {
            "type": "event", "name": "Tricky", "subscribes": ["p"], "emits": ["q"],
            "input": schema}, True),
        parse_step(str(steps / "fifo.step.ts"), "node", {
            "type": "event", "name": "Fifo", "subscribes": ["q"], "emits": [],
            "input": {"type": "object", "properties": {"n": {"type": "number"}}},
            "infrastructure": {"queue": {"type": "fifo"}}}, True),
    ], streams=[parse_stream(str(steps / "todo.stream.ts"), {
        "name": "to-do", "schema": {"type": "object", "properties": {"title": {"type": "string"}},
                                    "required": ["title"]}})])
    root = create_project(tmp_path / "checked", "default").root
    (root / "types.d.ts").write_text(generate_types(project).text)
    for file in (root / "steps").iterdir():
        file.unlink()
    (root / "steps" / "check.ts").write_text(TRICKY_CHECK)
    result = type_check(root)
    assert result.returncode == 0, result.stdout
