"""Fuzzing the edge from the schema (issue 19 item 3): schemathesis against a real `motia start`.

Two projects: examples/polyglot (zod 3 body, a path parameter) and the openapi fixture (zod 4,
pydantic, Ruby; path and query parameters, an optional parameter, a wildcard, middleware, several
statuses). schemathesis reads ``/__motia/openapi.json`` from the server and runs its coverage,
fuzzing and stateful phases, bounded (``--max-examples``, a seed, one worker, a request timeout,
the test's own timeout), with the checks that concern the framework: responses match their
declared schema, content type and headers.

It also records every exchange (HAR), and this test checks each one itself, where schemathesis
would not notice what the framework did wrong:

* no 5xx, except a status the step declared and answered itself (it carries the trace id header
  only an invoked step gets); those are named in the output;
* a request to a path and method the document declares reaches its step: a 404 must be the
  step's own (with the trace id), never the router's. (Before the fix, a path parameter holding
  an encoded newline, ``/users/a%0Ab``, got aiohttp's 404: the catch-all route was ``.*``.)
* every answer of GetUser passed its middleware (the ``x-gate`` header it adds).

The figures (requests sent, statuses) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from motia_core.testing import require_runtime
from tests.e2e.cli import free_port, start, stop
from tests.runners import PROJECTS, node_project, require_node_runner

REPO = Path(__file__).resolve().parents[2]
TRACE_HEADER = "x-trace-id"
MAX_EXAMPLES = 25

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def schemathesis(url: str, har: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", url,
         "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,"
                     "response_headers_conformance",
         "--exclude-checks", "not_a_server_error",  # judged below, where a declared 500 is named
         "--max-examples", str(MAX_EXAMPLES), "--seed", "19", "--workers", "1",
         "--request-timeout", "10", "--generation-database", "none", "--no-color",
         "--report", "har", "--report-har-path", str(har)],
        cwd=cwd, capture_output=True, text=True, timeout=240, check=False)


def operations(document: dict[str, Any]) -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    """(method, path regex, operation) for every operation of the document."""
    found = []
    for template, item in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in item.items():
            found.append((method.upper(), pattern, operation))
    return found


def header(entry: dict[str, Any], name: str) -> str | None:
    return next((h["value"] for h in entry["response"]["headers"] if h["name"].lower() == name),
                None)


def judge(document: dict[str, Any], entries: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The framework's faults among the exchanges, and the 5xx the steps declared (allowed)."""
    faults: list[str] = []
    declared_5xx: list[str] = []
    known = operations(document)
    for entry in entries:
        method = entry["request"]["method"]
        path = urlsplit(entry["request"]["url"]).path
        status = entry["response"]["status"]
        text = entry["response"]["content"].get("text", "")[:200]
        where = f"{method} {entry['request']['url']} -> {status} {text}"
        operation = next((op for m, p, op in known if m == method and p.match(path)), None)
        invoked = header(entry, TRACE_HEADER) is not None
        if status >= 500:
            if operation is not None and invoked and str(status) in operation["responses"]:
                declared_5xx.append(f"{operation['operationId']}: {where}")
            else:
                faults.append(f"a 5xx the step did not declare: {where}")
        elif status == 404 and operation is not None and not invoked:
            faults.append(f"a declared route did not reach its step: {where}")
        if (operation is not None and operation["operationId"] == "GetUser" and invoked
                and header(entry, "x-gate") != "passed"):
            faults.append(f"GetUser answered without its middleware: {where}")
    return faults, declared_5xx


def send(base: str, method: str, path: str, body: Any) -> dict[str, Any]:
    """One request of our own, recorded as a HAR entry."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", method=method, data=data,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, headers, body = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    return {"request": {"method": method, "url": f"{base}{path}"},
            "response": {"status": status,
                         "headers": [{"name": k, "value": v} for k, v in headers.items()],
                         "content": {"text": body.decode("utf-8", "replace")}}}


def fuzz(project: Path, tmp_path: Path,
         extra: tuple[tuple[str, str, Any], ...] = ()) -> tuple[list[dict[str, Any]], list[str]]:
    """Every exchange (schemathesis's, then ``extra``) and the declared 5xx among them."""
    port = free_port()
    server = start("start", project, port)
    base = f"http://127.0.0.1:{port}"
    har = tmp_path / "exchanges.har"
    try:
        with urllib.request.urlopen(f"{base}/__motia/openapi.json", timeout=10) as response:
            document = json.loads(response.read())
        result = schemathesis(f"{base}/__motia/openapi.json", har, tmp_path)
        ours = [send(base, method, path, body) for method, path, body in extra]
    finally:
        stop(server)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    entries = json.loads(har.read_text())["log"]["entries"] + ours
    faults, declared = judge(document, entries)
    statuses = collections.Counter(f"{e['request']['method']} {e['response']['status']}"
                                   for e in entries)
    print(f"\n{project.name}: {len(entries) - len(ours)} requests from schemathesis and "
          f"{len(ours)} of ours over {sum(len(i) for i in document['paths'].values())} "
          f"operations; statuses: {dict(sorted(statuses.items()))}; declared 5xx: {declared}")
    assert not faults, "\n".join(faults[:20])
    return entries, declared


def test_the_polyglot_example_survives_schemathesis(tmp_path: Path) -> None:
    require_node_runner()
    require_runtime("ruby")
    project = node_project(tmp_path / "polyglot", REPO / "examples" / "polyglot", zod="v3")
    entries, declared = fuzz(project, tmp_path)
    assert len(entries) >= 50
    assert declared == []
    methods = {e["request"]["method"] for e in entries}
    assert {"GET", "POST"} <= methods


def test_the_openapi_fixture_survives_schemathesis(tmp_path: Path) -> None:
    require_node_runner()
    require_runtime("ruby")
    project = node_project(tmp_path / "openapi", PROJECTS / "openapi", zod="v4")
    entries, declared = fuzz(project, tmp_path, extra=(
        ("PUT", "/items/boom", {"title": "t", "price": 1}), ("GET", "/users/a%0Ab", None),
        ("GET", "/static/a%0A%0Db", None), ("GET", "/files/x%0A", None)))
    assert len(entries) >= 100
    # The handler's own declared 500 is let through, and named.
    assert declared and all(d.startswith("PutItem: PUT") for d in declared)
    # Every operation was exercised, and with more than its first status.
    reached = {(e["request"]["method"], e["response"]["status"]) for e in entries}
    assert {("GET", 200), ("POST", 201), ("POST", 400), ("PUT", 200), ("PUT", 400)} <= reached
