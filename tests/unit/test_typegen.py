"""types.d.ts generation: JSON Schema to TypeScript text, and the Handlers/streams of a project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from motia_core.project import Project
from motia_core.project.steps import parse_step, parse_stream
from motia_core.project.typegen import generate_types, schema_to_ts, write_types

ROOT = Path("/project")


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


STRING = {"type": "string"}
NUMBER = {"type": "number"}


# --- schema_to_ts ------------------------------------------------------------------------------


@pytest.mark.parametrize(("schema", "expected"), [
    (None, "unknown"),
    (True, "unknown"),
    ({}, "unknown"),
    (False, "never"),
    ({"type": "string", "format": "email"}, "string"),
    ({"type": "integer"}, "number"),
    ({"type": "boolean"}, "boolean"),
    ({"type": "null"}, "null"),
    ({"type": ["string", "null"]}, "string | null"),
    ({"type": "string", "nullable": True}, "string | null"),
    ({"type": "string", "enum": ["low", "high"]}, "'low' | 'high'"),
    ({"enum": ["a", 1, True, None]}, "'a' | 1 | true | null"),
    ({"enum": []}, "never"),
    ({"const": "done"}, "'done'"),
    ({"type": "string", "const": "it's \\ \"quoted\""}, "'it\\'s \\\\ \"quoted\"'"),
    ({"const": {"a": 1}}, "unknown"),
    ({"anyOf": [STRING, NUMBER, STRING]}, "string | number"),
    ({"oneOf": [STRING, {}]}, "unknown"),
    ({"anyOf": [STRING, False]}, "string"),
    ({"allOf": [obj(("a",), a=STRING), obj(("b",), b=NUMBER)]}, "{ a: string } & { b: number }"),
    ({"allOf": [{"anyOf": [STRING, NUMBER]}, {"type": "string"}]}, "(string | number) & string"),
    ({"allOf": [STRING, False]}, "never"),
    ({"$ref": "#/definitions/x"}, "unknown"),
    ({"not": STRING}, "unknown"),
    ({"type": "unheard-of"}, "unknown"),
])
def test_schema_to_ts_scalars_and_combinations(schema: Any, expected: str) -> None:
    assert schema_to_ts(schema) == expected


@pytest.mark.parametrize(("schema", "expected"), [
    (obj(("id",), id=STRING, note=STRING), "{ id: string; note?: string }"),
    ({"type": "object", "properties": {"a b": STRING, "$ok": NUMBER, "1x": STRING}},
     "{ 'a b'?: string; $ok?: number; '1x'?: string }"),
    ({"type": "object"}, "Record<string, unknown>"),
    ({"type": "object", "additionalProperties": False}, "Record<string, never>"),
    ({"type": "object", "additionalProperties": NUMBER}, "Record<string, number>"),
    ({"type": "object", "additionalProperties": True, "properties": {"a": STRING},
      "required": ["a"]}, "{ a: string; [key: string]: unknown }"),
    # Named properties must fit the index signature, optional ones with undefined.
    ({"type": "object", "additionalProperties": NUMBER, "properties": {"a": STRING, "b": NUMBER},
      "required": ["a"]}, "{ a: string; b?: number; [key: string]: number | string | undefined }"),
    ({"properties": {"a": STRING}, "required": ["a"]}, "{ a: string }"),
    ({"type": ["object", "null"], "properties": {"a": STRING}, "required": ["a"]},
     "{ a: string } | null"),
    (obj(("inner",), inner=obj(("x",), x={"type": "array", "items": STRING})),
     "{ inner: { x: string[] } }"),
])
def test_schema_to_ts_objects(schema: Any, expected: str) -> None:
    assert schema_to_ts(schema) == expected


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "array", "items": STRING}, "string[]"),
    ({"type": "array"}, "unknown[]"),
    ({"type": "array", "items": {"anyOf": [STRING, NUMBER]}}, "(string | number)[]"),
    ({"type": "array", "items": {"type": "array", "items": NUMBER}}, "number[][]"),
    ({"items": obj(("a",), a=STRING)}, "{ a: string }[]"),
    # draft-07 tuples (zod-to-json-schema, zod 4 with target draft-7) and 2020-12 ones
    ({"type": "array", "items": [STRING, NUMBER], "minItems": 2, "maxItems": 2},
     "[string, number]"),
    ({"type": "array", "items": [STRING, {"type": ["number", "null"]}], "minItems": 1},
     "[string, (number | null)?]"),
    ({"type": "array", "prefixItems": [STRING], "items": NUMBER}, "[string, ...number[]]"),
    ({"type": "array", "items": [STRING], "additionalItems": {"anyOf": [STRING, NUMBER]}},
     "[string, ...(string | number)[]]"),
])
def test_schema_to_ts_arrays_and_tuples(schema: Any, expected: str) -> None:
    assert schema_to_ts(schema) == expected


def test_a_zod_3_schema_as_the_node_runner_sends_it() -> None:
    # zod-to-json-schema's output for
    # z.object({ id: z.string().uuid(), tags: z.array(z.string()).optional(),
    #            status: z.enum(['open', 'closed']), owner: z.string().nullable(),
    #            meta: z.record(z.number()) })
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "owner": {"type": ["string", "null"]},
            "meta": {"type": "object", "additionalProperties": {"type": "number"}},
        },
        "required": ["id", "status", "owner", "meta"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    assert schema_to_ts(schema) == ("{ id: string; tags?: string[]; status: 'open' | 'closed'; "
                                    "owner: string | null; meta: Record<string, number> }")


def test_a_pathologically_deep_schema_ends_in_unknown() -> None:
    schema: dict[str, Any] = STRING
    for _ in range(100):
        schema = {"type": "array", "items": schema}
    assert schema_to_ts(schema).startswith("unknown[]")


# --- a project's types -------------------------------------------------------------------------


def step(config: dict[str, Any], language: str = "node") -> Any:
    suffix = "_step.py" if language == "python" else ".step.ts"
    file = str(ROOT / "steps" / f"{config['name']}{suffix}")
    return parse_step(file, language, config, config["type"] != "noop")


def event(name: str, subscribes: list[str], emits: list[Any] | None = None,
          input: Any = None, **extra: Any) -> Any:
    config = {"type": "event", "name": name, "subscribes": subscribes, "emits": emits or [],
              **extra}
    if input is not None:
        config["input"] = input
    return step(config)


def api(name: str, emits: list[Any], **extra: Any) -> Any:
    return step({"type": "api", "name": name, "path": f"/{name.lower()}", "method": "POST",
                 "emits": emits, **extra})


def handlers(project: Project) -> dict[str, str]:
    text = generate_types(project).text
    block = text.split("interface Handlers {\n", 1)[1].split("\n  }", 1)[0]
    entries = {}
    for line in block.splitlines():
        name, _, entry = line.strip().partition(": ")
        entries[name.strip("'")] = entry
    return entries


def test_the_emit_union_takes_every_subscriber_into_account() -> None:
    project = Project(root=ROOT, steps=[
        api("Start", ["order.placed", {"topic": "order.placed", "label": "again"}, "audit"],
            bodySchema=obj(("sku",), sku=STRING)),
        event("Charge", ["order.placed"], input=obj(("sku",), sku=STRING)),
        event("Ship", ["order.placed"], input=obj(("address",), address=STRING)),
        event("Audit", ["audit"]),  # no input: nothing can be emitted to it
    ])
    entries = handlers(project)
    assert entries["Start"] == (
        "ApiRouteHandler<{ sku: string }, ApiResponse<number, unknown>, "
        "{ topic: 'order.placed'; data: { sku: string } & { address: string } } "
        "| { topic: 'audit'; data: never }>")
    assert entries["Audit"] == "EventHandler<never, never>"
    assert generate_types(project).warnings == ()


def test_fifo_subscribers_require_a_message_group_id() -> None:
    fifo = {"queue": {"type": "fifo"}}
    project = Project(root=ROOT, steps=[
        step({"type": "cron", "name": "Nightly", "cron": "0 3 * * *", "emits": ["sync"]}),
        event("Sync", ["sync"], input=obj(("n",), n=NUMBER), infrastructure=fifo),
        event("Count", ["sync"], input=obj(("n",), n=NUMBER)),
    ])
    assert handlers(project)["Nightly"] == (
        "CronHandler<{ topic: 'sync'; data: { n: number }; messageGroupId: string }>")


def test_topics_nobody_subscribes_to_are_left_out_with_a_warning() -> None:
    project = Project(root=ROOT, steps=[
        api("Lonely", ["nowhere", "also-nowhere"]),
        event("Relay", ["in"], ["out", "in"], input=obj(("x",), x=STRING)),
    ])
    generated = generate_types(project)
    entries = handlers(project)
    assert entries["Lonely"].endswith(", never>")
    assert entries["Relay"] == "EventHandler<{ x: string }, { topic: 'in'; data: { x: string } }>"
    assert len(generated.warnings) == 3
    assert generated.warnings[0] == (
        "steps/Lonely.step.ts: Lonely emits 'nowhere', which no step subscribes to; it is left "
        "out of the types (subscribe a step to it, or remove it from emits)")


def test_api_bodies_and_responses() -> None:
    project = Project(root=ROOT, steps=[
        api("Create", [], bodySchema={"type": "array", "items": STRING},
            responseSchema={"201": obj(("id",), id=STRING),
                            "400": obj(("error",), error=STRING)}),
        api("Plain", []),
    ])
    entries = handlers(project)
    assert entries["Create"] == (
        "ApiRouteHandler<string[], ApiResponse<201, { id: string }> | "
        "ApiResponse<400, { error: string }>, never>")
    assert entries["Plain"] == (
        "ApiRouteHandler<Record<string, unknown>, ApiResponse<number, unknown>, never>")


def test_the_whole_file_streams_imports_and_duplicate_names() -> None:
    project = Project(root=ROOT, steps=[
        step({"type": "noop", "name": "Person", "virtualEmits": ["x"], "virtualSubscribes": []}),
        event("Twice", ["x"], input=obj(("a",), a=STRING)),
        step({"type": "event", "name": "Twice", "subscribes": ["y"], "emits": []}, "python"),
    ], streams=[
        parse_stream(str(ROOT / "steps" / "todo.stream.ts"),
                     {"name": "todo", "schema": obj(("title",), title=STRING)}),
        parse_stream(str(ROOT / "steps" / "chat_stream.py"), {"name": "chat-room"}),
    ])
    generated = generate_types(project)
    assert generated.text.splitlines()[4:] == [
        "import type { EventHandler, MotiaStream } from 'motia'",
        "",
        "declare module 'motia' {",
        "  interface FlowContextStateStreams {",
        "    'todo': MotiaStream<{ title: string }>",
        "    'chat-room': MotiaStream<unknown>",
        "  }",
        "",
        "  interface Handlers {",
        "    'Twice': EventHandler<{ a: string }, never>",
        "  }",
        "}",
    ]
    assert generated.warnings == (
        "steps/Twice_step.py: step name 'Twice' is taken by an earlier step; Handlers keeps the "
        "first (give each step its own name)",)


def test_an_empty_project_still_augments_a_module() -> None:
    text = generate_types(Project(root=ROOT)).text
    assert "export {}" in text and "import" not in text
    assert "interface Handlers {\n  }" in text


def test_write_types_leaves_an_unchanged_file_alone(tmp_path: Path) -> None:
    generated = generate_types(Project(root=tmp_path, steps=[api("A", [])]))
    path = tmp_path / "types.d.ts"
    assert write_types(generated, path) is True
    before = path.stat().st_mtime_ns
    assert write_types(generated, path) is False
    assert path.stat().st_mtime_ns == before
    path.write_text("stale")
    assert write_types(generated, path) is True
    assert path.read_text() == generated.text
