"""Issue 14 through the real `motia` command in a subprocess: `.env` under `motia dev`, JSON
logs everywhere under `--json-logs`, `motia install`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from motia_core.testing import require_runtime
from tests.e2e.cli import MOTIA, REPO, free_port, motia, request, start, stop

FIXTURES = REPO / "tests" / "fixtures" / "projects"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def dotenv_project(tmp_path: Path) -> Path:
    target = tmp_path / "dotenv"
    shutil.copytree(FIXTURES / "compat-dotenv", target)
    return target


@pytest.fixture
def no_greeting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The server inherits this process's environment: the variables must come from .env.
    monkeypatch.delenv("COMPAT_GREETING", raising=False)
    monkeypatch.delenv("COMPAT_SHADOWED", raising=False)
    yield


def wait_for(url: str, wanted: object, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while True:  # bounded: until the answer is the wanted one or the deadline passes
        status, body = request(url)
        if (status, body) == wanted:
            return
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.05)


def test_dev_loads_dotenv_and_reloads_when_it_changes(dotenv_project: Path,
                                                      no_greeting: None) -> None:
    assert "COMPAT_GREETING" not in os.environ
    port = free_port()
    process = start("dev", dotenv_project, port, "--runners", "python", "--state", "memory",
                    "--queue", "memory")
    try:
        url = f"http://127.0.0.1:{port}/greet/py"
        assert request(url) == (200, {"greeting": "hello from .env",
                                      "shadowed": "from-the-file"})
        (dotenv_project / ".env").write_text("COMPAT_GREETING=edited\nCOMPAT_SHADOWED=too\n")
        wait_for(url, (200, {"greeting": "edited", "shadowed": "too"}))
    finally:
        stop(process)


@pytest.fixture
def json_logs_project(tmp_path: Path) -> Path:
    """A copy: `motia dev` writes the project's generated types, never into the repository."""
    target = tmp_path / "compat-json-logs"
    shutil.copytree(FIXTURES / "compat-json-logs", target)
    return target


def json_lines(stderr: str) -> list[dict[str, object]]:
    """Every line of ``stderr``, each of which must be one JSON object."""
    records = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line on stderr: {line!r}\n{stderr}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records


def test_dev_json_logs_reports_broken_and_skipped_steps_as_json(json_logs_project: Path) -> None:
    port = free_port()
    process = start("dev", json_logs_project, port, "--json-logs", "--runners",
                    "python", "--state", "memory", "--queue", "memory")
    try:
        assert request(f"http://127.0.0.1:{port}/ok") == (200, {"ok": True})
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    records = json_lines(stderr)
    by_action: dict[object, list[dict[str, object]]] = {}
    for record in records:
        by_action.setdefault(record.get("action"), []).append(record)
    [listening] = by_action["startup"]
    assert listening["url"] == f"http://127.0.0.1:{port}"
    [ready] = by_action["step_ready"]
    assert (ready["step"], ready["kind"], ready["trigger"]) == ("Ok", "api", "GET /ok")
    [skipped] = by_action["step_skipped"]
    assert skipped["file"] == "steps/other.step.ts" and skipped["level"] == "warn"
    failed = by_action["step_load_failed"]
    assert {r["file"] for r in failed} == {"steps/broken_step.py", "steps/bad_config_step.py"}
    assert any("broken on purpose" in str(r["msg"]) for r in failed)
    assert {r["field"] for r in failed if r["file"] == "steps/bad_config_step.py"} >= {
        "config.method"}


def test_start_json_logs_refuses_broken_steps_in_json() -> None:
    result = subprocess.run(
        [*MOTIA, "start", "--project", str(FIXTURES / "compat-json-logs"), "--json-logs",
         "--runners", "python", "-p", str(free_port()), "--state", "memory", "--queue",
         "memory"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    records = json_lines(result.stderr)
    [failure] = [r for r in records if r.get("action") == "startup_failed"]
    assert "broken_step.py" in str(failure["msg"])


# --- motia install (item 2) ------------------------------------------------------------------


def build_wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel, so pip installs it without reaching an index."""
    files = {
        "compat_greeting/__init__.py": 'GREETING = "hello from a wheel"\n',
        "compat_greeting-1.0.dist-info/METADATA":
            "Metadata-Version: 2.1\nName: compat-greeting\nVersion: 1.0\n",
        "compat_greeting-1.0.dist-info/WHEEL":
            "Wheel-Version: 1.0\nGenerator: motia-core tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append("compat_greeting-1.0.dist-info/RECORD,,")
    files["compat_greeting-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "compat_greeting-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


@pytest.fixture
def install_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MOTIA_PYTHON", raising=False)
    target = tmp_path / "install"
    shutil.copytree(FIXTURES / "compat-install", target)
    build_wheel(target / "vendor")
    return target


def doctor_environment(project: Path) -> tuple[int, dict[str, object]]:
    result = motia("doctor", "--json", "--project", str(project))
    return result.returncode, json.loads(result.stdout)["pythonEnvironment"]


def test_install_creates_python_modules_and_doctor_tracks_it(install_project: Path) -> None:
    code, env = doctor_environment(install_project)
    assert (code, env["status"], env["path"]) == (1, "missing", "python_modules/")
    assert "run `motia install`" in str(env["fix"])

    installed = motia("install", "--project", str(install_project))
    assert installed.returncode == 0, installed.stderr
    lines = installed.stdout.splitlines()
    assert lines[0].startswith("created python_modules/ (Python ")
    assert lines[1] == ("installed requirements.txt into python_modules/: Successfully "
                        "installed compat-greeting-1.0")
    assert doctor_environment(install_project) == (0, {"status": "ok",
                                                       "path": "python_modules/", "fix": None})

    port = free_port()
    process = start("start", install_project, port, "--state", "memory", "--queue", "memory")
    try:  # the runner runs in python_modules/, where the package is
        assert request(f"http://127.0.0.1:{port}/greeting") == (
            200, {"greeting": "hello from a wheel"})
    finally:
        stop(process)

    with (install_project / "requirements.txt").open("a") as requirements:
        requirements.write("# changed\n")
    code, env = doctor_environment(install_project)
    assert (code, env["status"]) == (1, "stale")
    again = motia("install", "--project", str(install_project))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("reusing python_modules/ (Python ")
    assert doctor_environment(install_project)[0] == 0


def test_install_without_requirements_has_nothing_to_do(tmp_path: Path) -> None:
    result = motia("install", "--project", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"nothing to install: {tmp_path.resolve()} has no "
                                    "requirements.txt")
    assert not (tmp_path / "python_modules").exists()


def test_npm_install_runs_the_original_postinstall(install_project: Path) -> None:
    npm = require_runtime("npm")
    # `motia` is the console script of the environment running these tests.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = subprocess.run([npm, "install", "--offline", "--no-audit", "--no-fund"],
                            cwd=install_project, capture_output=True, text=True, timeout=300,
                            check=False, env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installed requirements.txt into python_modules/" in result.stdout
    assert (install_project / "python_modules" / "bin" / "python").exists()


def test_json_logs_report_a_bad_setting_as_json(json_logs_project: Path) -> None:
    result = subprocess.run(
        [*MOTIA, "dev", "--project", str(json_logs_project), "--json-logs",
         "--workers", "python=0", "-p", str(free_port())],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    [record] = json_lines(result.stderr)
    assert record["action"] == "startup_failed" and "at least 1 worker" in str(record["msg"])
