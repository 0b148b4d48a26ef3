"""Types for every language from the same schemas (issue 19 item 2).

`motia generate-types` on the fixture project (TypeScript with zod 4, Python with pydantic, Ruby)
writes ``motia_types.py`` and ``sig/motia_types.rbs`` beside ``types.d.ts``. mypy checks a Python
step that uses them: it passes, and fails on a topic the step may not emit, on a field its
subscriber does not take and on a response the step did not declare. The step also runs (the
types import at run time). ``rbs validate`` (the rbs gem Ruby bundles) accepts the RBS file and
rejects it once it names a type that does not exist. ``motia dev`` rewrites the Python file when
a config changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp, missing, require_runtime
from tests.runners import PROJECTS, node_project, require_node_runner

FIXTURE = PROJECTS / "openapi"
GENERATE_TYPES = ("from motia_core.cli.project import generate_types_command; "
                  "generate_types_command()")

pytestmark = pytest.mark.timeout(120)

TYPED_STEP = '''\
"""A Python api step typed with the generated types."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the step loads even before `motia generate-types` has written the file
    from motia_types import SignUpContext, SignUpRequest, SignUpResponse

config = {
    "type": "api",
    "name": "SignUp",
    "path": "/sign-up",
    "method": "POST",
    "emits": ["user.created"],
    "bodySchema": {"type": "object", "properties": {"name": {"type": "string"}},
                   "required": ["name"]},
    "responseSchema": {
        "201": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    },
}


async def handler(req: SignUpRequest, ctx: SignUpContext) -> SignUpResponse:
    name: str = req["body"]["name"]
    await ctx.emit({"topic": "user.created", "data": {"id": ctx.trace_id, "name": name}})
    ctx.logger.info("signed up", {"name": name})
    return {"status": 201, "body": {"id": ctx.trace_id}}
'''


def project(tmp_path: Path) -> Path:
    require_node_runner()
    require_runtime("ruby")
    root = node_project(tmp_path / "typed", FIXTURE, zod="v4")
    (root / "steps" / "sign_up_step.py").write_text(TYPED_STEP)
    return root


def generate(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", GENERATE_TYPES, "--project", str(root)],
                          capture_output=True, text=True, timeout=90, check=False)


def mypy(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
         "motia_types.py", "steps/sign_up_step.py"],
        cwd=root, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project(tmp_path_factory.mktemp("types"))
    result = generate(root)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    for file in ("types.d.ts", "motia_types.py", "sig/motia_types.rbs"):
        assert f"wrote {root / file}" in result.stdout
    return root


def test_generate_types_writes_every_language_and_is_stable(generated: Path) -> None:
    again = generate(generated)
    assert again.returncode == 0
    assert again.stdout.count("unchanged:") == 3


def test_a_typed_python_step_passes_mypy(generated: Path) -> None:
    result = mypy(generated)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("old", "new", "complaint"), [
    ('"topic": "user.created"', '"topic": "user.deleted"', 'Literal[\'user.created\']'),
    ('"data": {"id": ctx.trace_id, "name": name}', '"data": {"id": ctx.trace_id, "nam": name}',
     '"nam"'),
    ('"body": {"id": ctx.trace_id}', '"body": {"ident": ctx.trace_id}', '"ident"'),
    ('{"status": 201,', '{"status": 200,', 'Literal[201]'),
    ('req["body"]["name"]', 'req["body"]["title"]', '"title"'),
])
def test_mypy_rejects_a_wrong_topic_or_field(generated: Path, old: str, new: str,
                                             complaint: str) -> None:
    step = generated / "steps" / "sign_up_step.py"
    text = step.read_text()
    assert old in text
    step.write_text(text.replace(old, new))
    try:
        result = mypy(generated)
    finally:
        step.write_text(text)
    assert result.returncode == 1, result.stdout
    assert "sign_up_step.py" in result.stdout and complaint in result.stdout, result.stdout


@pytest.mark.anyio
async def test_the_types_import_at_run_time_and_the_typed_step_runs(generated: Path) -> None:
    imported = subprocess.run([sys.executable, "-c", "import motia_types; "
                               "print(motia_types.SignUpRequest.__required_keys__)"],
                              cwd=generated, capture_output=True, text=True, timeout=30,
                              check=False)
    assert imported.returncode == 0, imported.stderr
    assert "'body'" in imported.stdout
    async with MotiaTestApp(generated, strict=True) as app:
        response = await app.post("/sign-up", json={"name": "ada"})
        assert response.status == 201, response.text
        event = await app.wait_for_topic("user.created")
        assert event.data == {"id": response.trace_id, "name": "ada"}


def rbs() -> list[str]:
    ruby = require_runtime("ruby")
    where = 'print Gem::Specification.find_by_name("rbs").bin_file("rbs")'
    found = subprocess.run([ruby, "-e", where], capture_output=True, text=True, timeout=30,
                           check=False)
    if found.returncode != 0 or not Path(found.stdout).is_file():
        missing("the rbs gem (bundled with Ruby 3.1 and later)", "gem install rbs")
    return [ruby, found.stdout]


def test_the_rbs_signatures_validate(generated: Path) -> None:
    command = [*rbs(), "-I", "sig", "validate", "--silent"]
    result = subprocess.run(command, cwd=generated, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (generated / "sig" / "motia_types.rbs").read_text()
    assert 'type create_user_body = { "name" => String, "age" => Integer?, ' \
           '"role" => ("admin" | "member") }' in text
    assert "type sign_up_emit = { topic: \"user.created\", data: user_created_data }" in text
    # The check is not vacuous: a reference to a type nobody defined is refused.
    broken = generated / "sig" / "broken.rbs"
    broken.write_text("module MotiaTypes\n  type oops = no_such_type\nend\n")
    try:
        refused = subprocess.run(command, cwd=generated, capture_output=True, text=True,
                                 timeout=120, check=False)
    finally:
        broken.unlink()
    assert refused.returncode != 0
    assert "no_such_type" in refused.stdout + refused.stderr


@pytest.mark.anyio
async def test_motia_dev_rewrites_the_python_types_when_a_config_changes(tmp_path: Path) -> None:
    root = project(tmp_path)
    async with MotiaTestApp(root, watch=True) as app:
        types = root / "motia_types.py"
        before = "class UserCreatedData(TypedDict):\n    id: str\n    name: str\n"
        assert before in types.read_text()
        rbs_file = root / "sig" / "motia_types.rbs"
        assert "user_created_data" in rbs_file.read_text()
        step = root / "steps" / "user_created_step.py"
        text = step.read_text()
        step.write_text(text.replace('"name": {"type": "string"}},',
                                     '"name": {"type": "string"}, "plan": {"type": "string"}},'))
        await app.reload(step)
        assert ("class UserCreatedData(TypedDict):\n    id: str\n    name: str\n"
                "    plan: NotRequired[str]\n") in types.read_text()


def test_the_polyglot_example_ships_current_types_and_its_python_step_type_checks(
        tmp_path: Path) -> None:
    require_node_runner()
    require_runtime("ruby")
    example = Path(__file__).resolve().parents[2] / "examples" / "polyglot"
    root = node_project(tmp_path / "polyglot", example, zod="v3")
    result = generate(root)
    assert result.returncode == 0, result.stderr
    for file in ("types.d.ts", "motia_types.py", "sig/motia_types.rbs"):
        assert (root / file).read_text() == (example / file).read_text(), (
            f"examples/polyglot/{file} is stale: run motia generate-types there")
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
         "motia_types.py", "steps/tickets/triage_step.py"],
        cwd=root, capture_output=True, text=True, timeout=90, check=False)
    assert checked.returncode == 0, checked.stdout
