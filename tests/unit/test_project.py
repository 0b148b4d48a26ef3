from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from motia_core.project import Discovery, Project, discover
from motia_core.project.steps import ApiConfig
from motia_core.protocol import ErrorObject, LoadedFile
from motia_core.runners.process import RunnerProcess
from motia_core.runners.spec import builtin_specs
from tests.support import FakeCore

PATTERNS = {spec.language: spec.patterns for spec in builtin_specs()}


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# test\n")


def rel(discovery: Discovery, paths: list[str]) -> list[str]:
    return [str(Path(p).relative_to(discovery.root)) for p in paths]


# --- discovery -----------------------------------------------------------------------------


def test_discovery_finds_every_pattern_in_steps_then_src_sorted(tmp_path: Path) -> None:
    touch(tmp_path,
          "src/zeta_step.py", "src/api/users.step.ts", "src/todo.stream.js",
          "steps/b_step.py", "steps/a/c.step.js", "steps/a/d_step.ts", "steps/a/e_step.js",
          "steps/legacy.step.py", "steps/old.stream.py", "steps/chat_stream.py",
          "steps/x.stream.ts", "steps/y_stream.ts", "steps/ruby/r.step.rb", "steps/ruby/s_step.rb",
          "steps/ruby/t.stream.rb", "steps/ruby/u_stream.rb")
    found = discover(tmp_path, PATTERNS)
    assert rel(found, found.files) == [
        "steps/a/c.step.js", "steps/a/d_step.ts", "steps/a/e_step.js", "steps/b_step.py",
        "steps/chat_stream.py", "steps/legacy.step.py", "steps/old.stream.py",
        "steps/ruby/r.step.rb", "steps/ruby/s_step.rb", "steps/ruby/t.stream.rb",
        "steps/ruby/u_stream.rb", "steps/x.stream.ts", "steps/y_stream.ts",
        "src/api/users.step.ts", "src/todo.stream.js", "src/zeta_step.py",
    ]
    assert rel(found, found.files_by_language["python"]) == [
        "steps/b_step.py", "steps/chat_stream.py", "steps/legacy.step.py",
        "steps/old.stream.py", "src/zeta_step.py"]
    assert rel(found, found.files_by_language["ruby"]) == [
        "steps/ruby/r.step.rb", "steps/ruby/s_step.rb", "steps/ruby/t.stream.rb",
        "steps/ruby/u_stream.rb"]
    assert len(found.files_by_language["node"]) == 7
    assert sorted(rel(found, list(found.stream_files))) == [
        "src/todo.stream.js", "steps/chat_stream.py", "steps/old.stream.py",
        "steps/ruby/t.stream.rb", "steps/ruby/u_stream.rb", "steps/x.stream.ts",
        "steps/y_stream.ts"]
    assert found.is_stream(str(tmp_path / "steps/chat_stream.py"))
    assert not found.is_stream(tmp_path / "steps/b_step.py")
    assert found.language_of(str(tmp_path / "src/api/users.step.ts")) == "node"
    assert found.language_of(tmp_path / "nowhere_step.py") is None
    assert all(isinstance(p, str) and Path(p).is_absolute() for p in found.files)


def test_dotted_python_names_are_found_with_a_rename_warning(tmp_path: Path) -> None:
    touch(tmp_path, "steps/create_pet.step.py", "steps/chat.stream.py", "steps/fine_step.py",
          "steps/web.step.ts")
    found = discover(tmp_path, PATTERNS)
    assert len(found.files) == 4
    assert found.warnings == [
        "steps/chat.stream.py: Python files named '*.stream.py' are deprecated (a module name "
        "cannot contain a dot); rename it to chat_stream.py",
        "steps/create_pet.step.py: Python files named '*.step.py' are deprecated (a module name "
        "cannot contain a dot); rename it to create_pet_step.py",
    ]


def test_ui_overrides_other_files_and_tool_directories_are_skipped(tmp_path: Path) -> None:
    touch(tmp_path, "steps/ok_step.py", "steps/ok.step.tsx", "steps/ok.step.jsx",
          "steps/helpers.py", "steps/readme.md", "steps/step.py",
          "steps/node_modules/pkg/a.step.js", "steps/python_modules/b_step.py",
          "steps/.venv/c_step.py", "steps/.motia/d_step.py", "steps/__pycache__/e_step.py",
          "steps/.hidden/f_step.py", "src/deep/er/g_step.rb",
          "lib/h_step.py", "streams/i_stream.py", "j_step.py")
    found = discover(tmp_path, PATTERNS)
    assert rel(found, found.files) == ["steps/ok_step.py", "src/deep/er/g_step.rb"]
    assert found.warnings == []


def test_missing_directories_are_fine(tmp_path: Path) -> None:
    assert discover(tmp_path, PATTERNS).files == []
    touch(tmp_path, "src/only_step.py")
    found = discover(tmp_path, PATTERNS)
    assert rel(found, found.files) == ["src/only_step.py"]
    assert found.files_by_language == {"python": found.files, "node": [], "ruby": []}


def test_the_longest_pattern_wins_and_plugins_are_discovered(tmp_path: Path) -> None:
    touch(tmp_path, "steps/a_step.py", "steps/b_step.go", "steps/c.special_step.py")
    patterns = {**PATTERNS, "go": ("_step.go",), "special": (".special_step.py",)}
    found = discover(tmp_path, patterns)
    assert found.language_of(tmp_path / "steps/b_step.go") == "go"
    assert found.language_of(tmp_path / "steps/c.special_step.py") == "special"
    assert found.language_of(tmp_path / "steps/a_step.py") == "python"


def test_symlink_loops_do_not_hang_discovery(tmp_path: Path) -> None:
    touch(tmp_path, "steps/inner/a_step.py")
    os.symlink(tmp_path / "steps", tmp_path / "steps/inner/loop")
    found = discover(tmp_path, PATTERNS)
    assert rel(found, found.files) == ["steps/inner/a_step.py"]


# --- the project model ---------------------------------------------------------------------


def loaded(root: Path, name: str, config: dict[str, Any] | None = None, *,
           handler: bool = True, error: str | None = None) -> LoadedFile:
    return LoadedFile(file=str(root / name), config=config, has_handler=handler,
                      error=ErrorObject(code=-32003, message=error) if error else None)


def api(name: str, path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"type": "api", "name": name, "path": path, "method": method, "emits": [], **extra}


def event(name: str, *topics: str, **extra: Any) -> dict[str, Any]:
    return {"type": "event", "name": name, "subscribes": list(topics), "emits": [], **extra}


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Discovery, list[LoadedFile]]:
    touch(tmp_path, "steps/a_api_step.py", "steps/b_bad_step.py", "steps/c_broken_step.py",
          "steps/d_event_step.py", "steps/e_cron_step.py", "steps/f_noop_step.py",
          "steps/g_todo_stream.py", "steps/h_audit_step.py", "src/later_step.ts",
          "src/skipped_step.rb")
    found = discover(tmp_path, PATTERNS)
    root = found.root
    results = [
        loaded(root, "steps/a_api_step.py", api("CreateOrder", "/orders", "POST",
                                                 emits=["order.created"], flows=["orders"])),
        loaded(root, "steps/b_bad_step.py", {"type": "api", "name": "Bad", "path": "x",
                                             "method": "get", "emits": []}),
        loaded(root, "steps/c_broken_step.py",
               error="steps/c_broken_step.py could not be imported: SyntaxError: bad"),
        loaded(root, "steps/d_event_step.py", event("Ship", "order.created", flows=["orders"])),
        loaded(root, "steps/e_cron_step.py", {"type": "cron", "name": "Nightly",
                                              "cron": "0 0 * * *", "emits": []}),
        loaded(root, "steps/f_noop_step.py", {"type": "noop", "name": "Human",
                                              "virtualEmits": [], "virtualSubscribes": [],
                                              "flows": ["orders", "support"]}, handler=False),
        loaded(root, "steps/g_todo_stream.py", {"name": "todo", "schema": {"type": "object"}},
               handler=False),
        loaded(root, "steps/h_audit_step.py", event("Audit", "order.created", "order.shipped")),
        loaded(root, "src/later_step.ts", api("ListOrders", "/orders")),
    ]
    return found, results


def test_valid_steps_are_kept_and_each_broken_file_is_reported(
    shop: tuple[Discovery, list[LoadedFile]]
) -> None:
    found, results = shop
    project = Project.build(found, results)
    assert [s.name for s in project.steps] == [
        "CreateOrder", "Ship", "Nightly", "Human", "Audit", "ListOrders"]
    assert [s.language for s in project.steps][-1] == "node"
    assert [s.name for s in project.streams] == ["todo"]
    root = found.root
    assert list(project.errors) == [str(root / "steps/b_bad_step.py"),
                                    str(root / "steps/c_broken_step.py")]
    assert [e.field for e in project.errors[str(root / "steps/b_bad_step.py")]] == [
        "config.path", "config.method"]
    assert project.skipped == {str(root / "src/skipped_step.rb"): "ruby"}
    assert not project.ok


def test_views_flows_routes_subscriptions_cron_and_noop(
    shop: tuple[Discovery, list[LoadedFile]]
) -> None:
    project = Project.build(*shop)
    assert project.flows == {"orders": ["CreateOrder", "Ship", "Human"], "support": ["Human"]}
    assert [(r.method, r.path, r.step.name) for r in project.api_routes] == [
        ("POST", "/orders", "CreateOrder"), ("GET", "/orders", "ListOrders")]
    assert {t: [s.name for s in steps] for t, steps in project.subscriptions.items()} == {
        "order.created": ["Ship", "Audit"], "order.shipped": ["Audit"]}
    assert [s.name for s in project.event_steps] == ["Ship", "Audit"]
    assert [s.name for s in project.cron_steps] == ["Nightly"]
    assert [s.name for s in project.noop_steps] == ["Human"]
    step = project.step_for_file(shop[0].root / "steps/d_event_step.py")
    assert step is not None and step.name == "Ship"
    assert project.step_for_file("/nowhere_step.py") is None


def test_report_errors_lists_every_problem_relative_to_the_project(
    shop: tuple[Discovery, list[LoadedFile]]
) -> None:
    report = Project.build(*shop).report_errors()
    assert report.splitlines() == [
        "3 problems in 2 files (those files were not loaded):",
        "  - steps/b_bad_step.py: config.path must start with '/', got 'x'; write '/x'",
        "  - steps/b_bad_step.py: config.method must be upper-case, got 'get'; write 'GET'",
        "  - steps/c_broken_step.py could not be imported: SyntaxError: bad",
    ]
    assert Project(root=Path("/p")).report_errors() == ""
    assert Project(root=Path("/p")).ok


def test_a_duplicate_route_is_an_error_naming_both_files(tmp_path: Path) -> None:
    touch(tmp_path, "steps/a_step.py", "steps/b_step.py", "steps/c_step.py", "src/d_step.ts",
          "src/e_step.ts")
    found = discover(tmp_path, PATTERNS)
    project = Project.build(found, [
        loaded(found.root, "steps/a_step.py", api("GetUser", "/users/:id")),
        loaded(found.root, "steps/b_step.py", api("GetUser2", "/Users/:userId/")),
        loaded(found.root, "steps/c_step.py", api("PutUser", "/users/:id", "PUT")),
        loaded(found.root, "src/d_step.ts", api("Tab", "/users/:id/:tab?")),
        loaded(found.root, "src/e_step.ts", api("Tab2", "/users/:x/:y?")),
    ])
    assert [s.name for s in project.steps] == ["GetUser", "PutUser", "Tab"]
    [dup] = project.errors[str(found.root / "steps/b_step.py")]
    assert dup.field == "config.path"
    assert dup.describe(found.root) == (
        "steps/b_step.py: config.path GET /Users/:userId/ is already served by steps/a_step.py; "
        "change the path or method of one of the two steps")
    [dup2] = project.errors[str(found.root / "src/e_step.ts")]
    assert "already served by src/d_step.ts" in str(dup2)
    assert [r.step.name for r in project.api_routes] == ["GetUser", "PutUser", "Tab"]
    assert isinstance(project.steps[0].config, ApiConfig)


def test_duplicate_step_names_warn_and_duplicate_stream_names_fail(tmp_path: Path) -> None:
    touch(tmp_path, "steps/a_step.py", "src/b_step.py", "steps/x_stream.py", "src/y_stream.py")
    found = discover(tmp_path, PATTERNS)
    project = Project.build(found, [
        loaded(found.root, "steps/a_step.py", event("Same", "t")),
        loaded(found.root, "src/b_step.py", event("Same", "u")),
        loaded(found.root, "steps/x_stream.py", {"name": "chat"}, handler=False),
        loaded(found.root, "src/y_stream.py", {"name": "chat"}, handler=False),
    ])
    assert [s.name for s in project.steps] == ["Same", "Same"]
    assert project.warnings == [
        "step name 'Same' is used by steps/a_step.py and src/b_step.py; names key logs, traces "
        "and queues, so give each step its own"]
    assert [s.file for s in project.streams] == [str(found.root / "steps/x_stream.py")]
    [dup] = project.errors[str(found.root / "src/y_stream.py")]
    assert "'chat' is already the name of the stream in steps/x_stream.py" in str(dup)


def test_discovery_warnings_carry_over_and_a_missing_config_is_an_error(tmp_path: Path) -> None:
    touch(tmp_path, "steps/old.step.py")
    found = discover(tmp_path, PATTERNS)
    project = Project.build(found, [loaded(found.root, "steps/old.step.py", None)])
    assert project.warnings == found.warnings and len(project.warnings) == 1
    [error] = project.errors[str(found.root / "steps/old.step.py")]
    assert str(error) == f"{found.root / 'steps/old.step.py'}: the runner returned no config"


def test_started_languages_decide_between_skipped_and_unreported(tmp_path: Path) -> None:
    touch(tmp_path, "steps/a_step.py", "steps/b_step.py", "steps/c_step.rb", "steps/d_step.ts")
    found = discover(tmp_path, PATTERNS)
    project = Project.build(found, [loaded(found.root, "steps/a_step.py", api("A", "/a"))],
                            languages=["python", "node"])
    assert [s.name for s in project.steps] == ["A"]
    assert project.skipped == {str(found.root / "steps/c_step.rb"): "ruby"}
    assert [str(e) for e in project.errors[str(found.root / "steps/b_step.py")]] == [
        f"{found.root / 'steps/b_step.py'}: the python runner did not report on this file; "
        "see the runner's log"]
    assert [e.message for e in project.errors[str(found.root / "steps/d_step.ts")]] == [
        "the node runner did not report on this file"]


def test_loaded_files_must_come_from_discovery(tmp_path: Path) -> None:
    found = discover(tmp_path, PATTERNS)
    with pytest.raises(ValueError, match="did not find"):
        Project.build(found, [loaded(tmp_path, "steps/ghost_step.py", api("G", "/g"))])


# --- with the real Python runner -----------------------------------------------------------


STEP_FILES = {
    "steps/orders/create_step.py": (
        "config = {'type': 'api', 'name': 'Create', 'path': '/orders', 'method': 'POST',\n"
        "          'emits': ['order.created'], 'flows': ['orders']}\n"
        "async def handler(req, ctx):\n    return {'status': 200, 'body': {}}\n"),
    "steps/orders/typo_step.py": (
        "config = {'type': 'event', 'name': 'Typo', 'subscribe': ['order.created'],\n"
        "          'emits': []}\n"
        "async def handler(input, ctx):\n    return None\n"),
    "steps/orders/nohandler_step.py": (
        "config = {'type': 'cron', 'name': 'NoHandler', 'cron': '0 0 * * *', 'emits': []}\n"),
    "steps/orders/broken_step.py": "config = {\n",
    "steps/flow_step.py": (
        "config = {'type': 'noop', 'name': 'Human', 'virtualEmits': ['order.created'],\n"
        "          'virtualSubscribes': [], 'flows': ['orders']}\n"),
    "src/todo_stream.py": (
        "config = {'name': 'todo', 'schema': {'type': 'object'},\n"
        "          'baseConfig': {'storageType': 'default'}, 'canAccess': lambda s, a: True}\n"),
}


@pytest.mark.anyio
async def test_a_project_loaded_by_the_real_python_runner(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    for name, text in STEP_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    found = discover(root, PATTERNS)
    [python] = [spec for spec in builtin_specs() if spec.language == "python"]
    process = RunnerProcess(python, project_root=found.root, callbacks=FakeCore())
    async with anyio.create_task_group() as tg:
        await tg.start(process.run)
        try:
            results = await process.load(str(p) for p in found.files_by_language["python"])
        finally:
            with anyio.CancelScope(shield=True):
                await process.stop()
    project = Project.build(found, results)
    assert [s.name for s in project.steps] == ["Human", "Create"]
    assert [(s.name, s.has_can_access) for s in project.streams] == [("todo", True)]
    assert project.flows == {"orders": ["Human", "Create"]}
    report = project.report_errors()
    assert "steps/orders/typo_step.py: config.subscribe is not a field of an event step; " \
           "did you mean 'subscribes'?" in report
    assert "steps/orders/typo_step.py: config.subscribes is required for event steps" in report
    assert "steps/orders/nohandler_step.py: handler is missing: the cron step exports no " \
           "handler; define `async def handler(ctx):` at module level" in report
    assert "steps/orders/broken_step.py" in report and "SyntaxError" in report
    assert len(project.errors) == 3
