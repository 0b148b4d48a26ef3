"""Runner plugins: motia.toml tables, entry points, precedence, errors, `motia runners list`.

Entry points are real: each test that needs one writes a ``*.dist-info`` folder (METADATA and
entry_points.txt) and a module into tmp_path and puts it on sys.path, which is how an installed
package looks to importlib.metadata.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from motia_core.cli.runners import runners
from motia_core.project.runtimes import missing_runtimes
from motia_core.runners.plugins import (
    PROJECT_SOURCE,
    RunnerConfigError,
    load_registry,
    pin_project,
    registry_for_project,
)
from motia_core.runners.spec import runners_dir

PERL_TABLE = """
[runner.perl]
command = ["perl", "${project}/runner.pl", "--flag"]
patterns = [".step.pl", "_step.pl"]
env = { PERL5LIB = "${project}/lib" }
install_hint = "apt-get install perl"
"""


def project(tmp_path: Path, toml: str) -> Path:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    (root / "motia.toml").write_text(toml)
    return root


def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
                     target: str = "lua_plugin:spec") -> None:
    """A distribution `lua-plugin` with a `motia.runners` entry point `lua`."""
    site = tmp_path / "site"
    info = site / "lua_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lua-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[motia.runners]\nlua = {target}\n")
    (site / "lua_plugin.py").write_text(body)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "lua_plugin", raising=False)


LUA_SPEC = """
from motia_core.runners.spec import RunnerSpec

def spec():
    return RunnerSpec(language="lua", command=("lua", "runner.lua"), patterns=(".step.lua",),
                      install_hint="apt-get install lua5.4")
"""


def test_without_a_motia_toml_the_registry_is_the_builtins(tmp_path: Path) -> None:
    registry = registry_for_project(tmp_path)
    assert [(s.language, s.source) for s in registry] == [
        ("python", "built-in"), ("node", "built-in"), ("ruby", "built-in")]


def test_a_project_table_registers_a_new_language(tmp_path: Path) -> None:
    root = project(tmp_path, PERL_TABLE + '\n[http]\nport = 3001\n')
    registry = registry_for_project(root)
    perl = registry.get("perl")
    assert perl.source == PROJECT_SOURCE
    assert perl.argv(root) == ["perl", f"{root}/runner.pl", "--flag"]
    assert perl.environment(root, "perl#0")["PERL5LIB"] == f"{root}/lib"
    assert perl.install_hint == "apt-get install perl"
    assert registry.for_file(root / "steps" / "a.step.pl") is perl
    assert registry.for_file(root / "steps" / "a_step.py") is registry.get("python")


def test_a_relative_executable_is_anchored_at_the_project(tmp_path: Path) -> None:
    root = project(tmp_path, '[runner.sh]\ncommand = ["./bin/runner"]\npatterns = [".step.sh"]\n')
    assert registry_for_project(root).get("sh").argv(root) == [f"{root}/bin/runner"]


def test_a_table_for_an_existing_language_overrides_only_its_keys(tmp_path: Path) -> None:
    root = project(tmp_path, '[runner.node]\ncommand = ["bun", "${runners}/node/runner.mjs"]\n')
    node = registry_for_project(root).get("node")
    assert node.argv(root) == ["bun", f"{runners_dir()}/node/runner.mjs"]
    assert ".step.ts" in node.patterns and node.source == PROJECT_SOURCE
    assert "Node.js" in node.install_hint


@pytest.mark.parametrize(("toml", "expected"), [
    ('[runner.perl]\npatterns = [".step.pl"]\n',
     "[runner.perl]: a new runner needs command, e.g. command = [\"perl\""),
    ('[runner.perl]\ncommand = "perl runner.pl"\npatterns = [".step.pl"]\n',
     "[runner.perl]: command must be a non-empty array of strings, an argv array (no shell)"),
    ('[runner.perl]\ncommand = ["perl"]\npatterns = []\n',
     "[runner.perl]: patterns must be a non-empty array of strings"),
    ('[runner.perl]\ncommand = ["perl"]\npatterns = [".pl"]\npattern = ["x"]\n',
     "[runner.perl]: unknown key(s) pattern; known keys: command, env, install_hint, patterns"),
    ('[runner.perl]\ncommand = ["perl"]\npatterns = [".pl"]\nenv = { N = 1 }\n',
     "[runner.perl]: env must be a table of strings"),
    ('[runner.perl]\ncommand = ["perl"]\npatterns = ["_step.py"]\n',
     "[runner.perl] pattern '_step.py' is already served by the python runner (built-in); "
     "to replace that runner, name the table [runner.python]"),
    ('[runner."my lang"]\ncommand = ["x"]\npatterns = [".x"]\n',
     "[runner.my lang]: the language name must be letters, digits, _ or -"),
    ("[runner]\nperl = 3\n", "[runner.perl]: must be a table, got 3"),
    ("[runner.perl\n", "not valid TOML"),
])
def test_bad_tables_are_errors_naming_file_table_and_key(tmp_path: Path, toml: str,
                                                         expected: str) -> None:
    root = project(tmp_path, toml)
    with pytest.raises(RunnerConfigError) as caught:
        registry_for_project(root)
    assert str(caught.value).startswith(str(root / "motia.toml"))
    assert expected in str(caught.value)


def test_an_installed_package_registers_a_runner_by_entry_point(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed_plugin(tmp_path, monkeypatch, LUA_SPEC)
    lua = registry_for_project(tmp_path).get("lua")
    assert lua.source == "entry point lua-plugin:lua"
    assert lua.patterns == (".step.lua",)


def test_an_entry_point_may_name_a_spec_instance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed_plugin(tmp_path, monkeypatch, LUA_SPEC + "\nINSTANCE = spec()\n",
                     target="lua_plugin:INSTANCE")
    assert registry_for_project(tmp_path).get("lua").command == ("lua", "runner.lua")


def test_the_project_table_wins_over_the_entry_point(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed_plugin(tmp_path, monkeypatch, LUA_SPEC)
    root = project(tmp_path, '[runner.lua]\ncommand = ["luajit", "runner.lua"]\n')
    lua = registry_for_project(root).get("lua")
    assert lua.command == ("luajit", "runner.lua")
    assert lua.patterns == (".step.lua",)  # inherited from the package's spec
    assert lua.source == PROJECT_SOURCE


@pytest.mark.parametrize(("body", "expected"), [
    ("raise ImportError('no lua bindings')",
     "entry point 'lua' (lua_plugin:spec) of lua-plugin in group 'motia.runners' failed to "
     "load: ImportError: no lua bindings; reinstall or uninstall lua-plugin"),
    ("def spec():\n    return {'language': 'lua'}\n",
     "entry point 'lua' (lua_plugin:spec) of lua-plugin in group 'motia.runners' gave dict, "
     "expected a motia_core.runners.RunnerSpec (or a callable returning one)"),
])
def test_a_broken_plugin_is_reported_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             body: str, expected: str) -> None:
    installed_plugin(tmp_path, monkeypatch, body)
    registry, problems = load_registry(tmp_path)
    assert problems == [expected]
    assert "python" in registry  # the others are still there
    with pytest.raises(RunnerConfigError, match="lua-plugin"):
        registry_for_project(tmp_path)


def test_pin_project_fixes_the_project_in_command_and_env(tmp_path: Path) -> None:
    root = project(tmp_path, PERL_TABLE)
    pinned = pin_project(registry_for_project(root).get("perl"), root)
    elsewhere = tmp_path / "elsewhere"
    assert pinned.argv(elsewhere) == ["perl", f"{root}/runner.pl", "--flag"]
    assert pinned.environment(elsewhere, "perl#0")["PERL5LIB"] == f"{root}/lib"


def test_a_missing_runtime_names_the_steps_that_need_it_and_the_fix(tmp_path: Path) -> None:
    root = project(tmp_path, '[runner.cobol]\ncommand = ["definitely-not-installed-cobol"]\n'
                             'patterns = [".step.cob"]\n'
                             'install_hint = "apt-get install gnucobol"\n')
    for name in ("a.step.cob", "sub/b.step.cob"):
        (root / "steps" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "steps" / name).write_text("")
    (root / "steps" / "fine_step.py").write_text("")
    (missing,) = missing_runtimes(root, registry_for_project(root))
    assert missing.spec.language == "cobol"
    assert missing.files == ("steps/a.step.cob", "steps/sub/b.step.cob")
    assert missing.message == (
        "the cobol runner needs 'definitely-not-installed-cobol', which is not installed; 2 step "
        "file(s) need it: steps/a.step.cob, steps/sub/b.step.cob. Fix: apt-get install gnucobol")


def test_runners_list_shows_language_patterns_source_command_and_presence(
        tmp_path: Path) -> None:
    root = project(tmp_path, PERL_TABLE + '\n[runner.cobol]\ncommand = ["no-such-cobol"]\n'
                                          'patterns = [".step.cob"]\n')
    (root / "steps").mkdir()
    (root / "steps" / "x.step.cob").write_text("")
    result = CliRunner().invoke(runners, ["list", "--project", str(root), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = {row["language"]: row for row in report["runners"]}
    assert list(rows) == ["python", "node", "ruby", "perl", "cobol"]
    assert rows["perl"] == {"language": "perl", "patterns": [".step.pl", "_step.pl"],
                            "source": "project motia.toml",
                            "command": ["perl", f"{root}/runner.pl", "--flag"],
                            "present": shutil.which("perl") is not None,
                            "installHint": "apt-get install perl"}
    assert rows["python"]["source"] == "built-in" and rows["python"]["present"] is True
    assert rows["cobol"]["present"] is False
    assert report["missing"] == [
        "the cobol runner needs 'no-such-cobol', which is not installed; 1 step file(s) need "
        "it: steps/x.step.cob. Fix: install 'no-such-cobol' or fix the runner's command "
        "(project motia.toml)"]
    human = CliRunner().invoke(runners, ["list", "--project", str(root)])
    assert human.exit_code == 0
    assert "project motia.toml" in human.output and "missing" in human.output


def test_runners_list_reports_a_bad_table_and_exits_1(tmp_path: Path) -> None:
    root = project(tmp_path, '[runner.perl]\ncommand = "perl"\npatterns = [".pl"]\n')
    result = CliRunner().invoke(runners, ["list", "--project", str(root), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert "[runner.perl]: command must be a non-empty array" in report["problems"][0]
    assert [row["language"] for row in report["runners"]] == ["python", "node", "ruby"]
