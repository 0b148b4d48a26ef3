"""The OpenAPI 3.1 document of a project's api steps (issue 19 item 1).

Built from configs alone (no runner) for the rules: Express paths, parameters, schemas moved to
components with their ``$ref``s rewritten, what cannot be described named under ``x-motia-*``;
every document is checked with openapi-spec-validator. Then from real runners: the fixture
project (zod 4, pydantic, Ruby) and examples/polyglot (zod 3) served by a real server at
``/__motia/openapi.json`` (open to reads under ``motia start``) and written by ``motia openapi``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from motia_core.project import Project
from motia_core.project.checker import ConfigError
from motia_core.project.openapi import build_openapi, openapi_path
from motia_core.project.steps import parse_step
from motia_core.testing import MotiaTestApp, require_runtime
from tests.runners import PROJECTS, node_project, require_node_runner

REPO = Path(__file__).resolve().parents[2]
FIXTURE = PROJECTS / "openapi"
POLYGLOT = REPO / "examples" / "polyglot"

pytestmark = pytest.mark.timeout(120)


def api(name: str, path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"type": "api", "name": name, "path": path, "method": method, "emits": [], **extra}


def project_of(tmp_path: Path, *configs: dict[str, Any]) -> Project:
    steps = [parse_step(str(tmp_path / f"steps/s{i}.step.ts"), "node", c, True)
             for i, c in enumerate(configs)]
    return Project(root=tmp_path, steps=steps)


# --- the rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("express", "expected"), [
    ("/", [("/", [])]),
    ("/users/:id", [("/users/{id}", [("id", None)])]),
    ("/users/:id/posts/:postId", [("/users/{id}/posts/{postId}", [("id", None),
                                                                   ("postId", None)])]),
    ("/files/:name?", [("/files", []), ("/files/{name}", [("name", None)])]),
    ("/n/:id(\\d+)", [("/n/{id}", [("id", "^(?:\\d+)$")])]),
    ("/assets/*", [("/assets/{0}", [("0", None)])]),
    ("/file.:ext", [("/file.{ext}", [("ext", None)])]),
])
def test_express_paths_become_openapi_paths(express: str, expected: list[Any]) -> None:
    assert openapi_path(express) == expected


def test_an_operation_has_parameters_body_responses_tags_and_id(tmp_path: Path) -> None:
    body = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    built = build_openapi(project_of(tmp_path, api(
        "Make", "/things/:id", "POST", flows=["f"], description="makes",
        bodySchema=body, queryParams=[{"name": "q", "description": "a query"}],
        responseSchema={"201": {"type": "object"}, "409": {"type": "object"}})))
    validate(built.document)
    operation = built.document["paths"]["/things/{id}"]["post"]
    assert operation["operationId"] == "Make" and operation["tags"] == ["f"]
    assert operation["description"] == "makes"
    assert operation["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "a query"}]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert built.document["components"]["schemas"][ref.rsplit("/", 1)[1]] == body
    # The framework's own 400 for an invalid body is declared too.
    assert sorted(operation["responses"]) == ["201", "400", "409"]
    assert built.document["tags"] == [{"name": "f"}]
    assert built.warnings == ()


def test_refs_are_rewritten_into_the_component_and_dialect_differences_fixed(
        tmp_path: Path) -> None:
    pydantic_like = {"$defs": {"D": {"type": "object", "properties": {"w": {"type": "number"}}}},
                     "type": "object", "properties": {"d": {"$ref": "#/$defs/D"}}}
    recursive = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                 "properties": {"children": {"type": "array", "items": {"$ref": "#"}},
                                "pair": {"type": "array", "items": [{"type": "string"},
                                                                     {"type": "number"}]}}}
    built = build_openapi(project_of(tmp_path, api("P", "/p", "PUT", bodySchema=pydantic_like,
                                                   responseSchema={"200": recursive})))
    validate(built.document)
    schemas = built.document["components"]["schemas"]
    assert schemas["PBody"]["properties"]["d"]["$ref"] == "#/components/schemas/PBody/$defs/D"
    response = schemas["PResponse200"]
    assert "$schema" not in response
    assert response["properties"]["children"]["items"]["$ref"] == (
        "#/components/schemas/PResponse200")
    assert response["properties"]["pair"] == {
        "type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]}


def test_what_cannot_be_described_is_named_and_the_document_stays_valid(tmp_path: Path) -> None:
    external = {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}
    project = project_of(
        tmp_path, api("Ext", "/ext", "POST", bodySchema=external),
        api("Pre", "/pre", "OPTIONS"),
        api("Pattern", "/ab+cd"),
        api("Odd", "/odd", responseSchema={"2xx": {"type": "object"}}))
    project.errors[str(tmp_path / "steps/broken.step.ts")] = [
        ConfigError(str(tmp_path / "steps/broken.step.ts"), "", "SyntaxError: oops", "")]
    built = build_openapi(project)
    validate(built.document)
    operation = built.document["paths"]["/ext"]["post"]
    assert operation["x-motia-problems"] == [
        "Body: $ref 'https://example.com/x.json' points outside the schema; described as any "
        "value"]
    assert built.document["components"]["schemas"]["ExtBody"] == {}
    skipped = {entry.get("step", entry["file"]): entry["reason"]
               for entry in built.document["x-motia-skipped"]}
    assert "CORS preflight" in skipped["Pre"]
    assert "'+'" in skipped["Pattern"]
    assert "SyntaxError: oops" in skipped["steps/broken.step.ts"]
    assert "/pre" not in built.document["paths"] and "/ab+cd" not in built.document["paths"]
    assert built.document["paths"]["/odd"]["get"]["responses"] == {
        "default": {"description": "Whatever Odd answers (no responseSchema)"}}
    # Every problem is also a warning naming the file.
    assert len(built.warnings) == 5
    assert all(w.startswith("steps/") for w in built.warnings)


def test_operation_ids_stay_unique(tmp_path: Path) -> None:
    built = build_openapi(project_of(tmp_path, api("Same", "/a"), api("Same", "/b"),
                                     api("Opt", "/c/:x?")))
    validate(built.document)
    paths = built.document["paths"]
    ids = [paths[p]["get"]["operationId"] for p in ("/a", "/b", "/c", "/c/{x}")]
    assert ids == ["Same", "Same_2", "Opt", "Opt_2"]


# --- from real runners ----------------------------------------------------------------------------


def fixture_project(tmp_path: Path) -> Path:
    require_node_runner()
    return node_project(tmp_path / "openapi", FIXTURE, zod="v4")


@pytest.mark.anyio
async def test_the_served_document_shows_every_language_and_is_open_under_start(
        tmp_path: Path) -> None:
    root = fixture_project(tmp_path)
    async with MotiaTestApp(root, strict=True) as app:
        response = await app.get("/__motia/openapi.json")
        # A path parameter may hold any character: an encoded newline reaches the step (it got
        # the router's 404 while the catch-all route was `.*`; found by schemathesis).
        newline = await app.get("/users/a%0Ab")
        assert newline.status == 200 and newline.json["id"] == "a\nb", newline.text
    assert response.status == 200, response.text
    document = response.json
    validate(document)
    paths = document["paths"]
    assert sorted(paths) == ["/files", "/files/{name}", "/items/{itemId}", "/static/{0}",
                             "/users", "/users/{id}"]
    schemas = document["components"]["schemas"]
    # zod 4 (converted by the project's own zod in the Node runner)
    assert schemas["CreateUserBody"]["properties"]["role"]["enum"] == ["admin", "member"]
    assert schemas["GetUserResponse200"]["required"] == ["id", "name", "tags", "verbose"]
    # pydantic (converted by the Python runner), its $defs kept inside the component
    size = schemas["PutItemBody"]["properties"]["size"]["anyOf"][0]
    assert size == {"$ref": "#/components/schemas/PutItemBody/$defs/Dimensions"}
    # Ruby: an object with `json_schema`, converted by the Ruby runner
    assert schemas["ListFilesResponse200"]["properties"]["files"]["items"] == {"type": "string"}
    files = paths["/files/{name}"]["get"]
    assert files["x-motia-step"]["language"] == "ruby"
    assert [p["name"] for p in files["parameters"]] == ["name", "limit"]
    assert "x-motia-skipped" not in document


def run_openapi(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "motia_core.cli", "openapi", "--project",
                           str(root), *args], capture_output=True, text=True, timeout=90,
                          check=False)


def test_motia_openapi_writes_the_polyglot_document_with_its_zod_schema(tmp_path: Path) -> None:
    require_node_runner()
    out = tmp_path / "openapi.json"
    result = run_openapi(POLYGLOT, "-o", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    validate(document)
    body = document["components"]["schemas"]["CreateTicketBody"]
    assert body["properties"]["customer"] == {"type": "string", "format": "email"}
    assert body["required"] == ["title", "body", "customer"]
    assert document["paths"]["/tickets/{id}"]["get"]["parameters"][0]["name"] == "id"
    printed = run_openapi(POLYGLOT)
    assert printed.returncode == 0 and json.loads(printed.stdout) == document


def test_motia_openapi_exits_1_naming_a_file_that_did_not_load(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "ok_step.py").write_text(
        "config = {'type': 'api', 'name': 'Ok', 'path': '/ok', 'method': 'GET', 'emits': []}\n"
        "async def handler(req, ctx):\n    return {'status': 200, 'body': {}}\n")
    (root / "steps" / "bad_step.py").write_text("config = {'type': 'api'\n")
    result = run_openapi(root)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    validate(document)
    assert list(document["paths"]) == ["/ok"]
    assert document["x-motia-skipped"][0]["file"] == "steps/bad_step.py"
    assert "steps/bad_step.py" in result.stderr


def test_a_ruby_schema_object_that_cannot_describe_itself_is_named(tmp_path: Path) -> None:
    require_runtime("ruby")
    root = tmp_path / "p"
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "ok.step.rb").write_text(
        "class Shape\n  def json_schema = { type: 'object' }\nend\n"
        "def config = { type: 'api', name: 'Ok', path: '/ok', method: 'POST', emits: [],\n"
        "               bodySchema: Shape.new }\n"
        "def handler(req, ctx) = { status: 200, body: {} }\n")
    (root / "steps" / "bad.step.rb").write_text(
        "class Broken\n  def json_schema = raise(ArgumentError, 'no idea')\nend\n"
        "def config = { type: 'api', name: 'Bad', path: '/bad', method: 'POST', emits: [],\n"
        "               bodySchema: Broken.new }\n"
        "def handler(req, ctx) = { status: 200, body: {} }\n")
    result = run_openapi(root)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    validate(document)
    assert document["components"]["schemas"]["OkBody"] == {"type": "object"}
    [skipped] = document["x-motia-skipped"]
    assert skipped["file"] == "steps/bad.step.rb"
    assert "Broken#json_schema raised ArgumentError: no idea" in skipped["reason"]
