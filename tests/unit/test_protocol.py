import json
from pathlib import Path

import msgspec
import pytest

from motia_core import protocol as p
from motia_core.protocol import errors, runner_tables

ROOT = Path(__file__).parents[2]


def test_committed_schema_is_up_to_date() -> None:
    committed = (ROOT / "protocol" / "schema.json").read_text()
    assert committed == p.render_schema(), "protocol/schema.json is stale: run `make schema`"


@pytest.mark.parametrize("path", sorted(runner_tables.TABLES))
def test_committed_runner_error_table_is_up_to_date(path: str) -> None:
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == runner_tables.TABLES[path](), f"{path} is stale: run `make schema`"


def test_runner_tables_list_every_core_error_once() -> None:
    listed = [c.name for c in runner_tables.error_codes()]
    assert sorted(listed) == sorted(n for n in errors.__all__ if n != "RpcError")
    assert len({c.code for c in runner_tables.error_codes()}) == len(listed)


def test_every_method_has_a_direction_and_typed_params() -> None:
    for name, method in p.METHODS.items():
        assert method.direction in ("core->runner", "runner->core", "both"), name
        if method.params is not None:
            assert issubclass(method.params, msgspec.Struct), name


def test_wire_names_are_camel_case() -> None:
    params = p.InvokeParams(
        invocation_id="i", file="/f", trigger="api", input={"a": 1},
        trace=p.TraceContext(trace_id="t", span_id="s"), timeout_ms=5,
    )
    wire = json.loads(msgspec.json.encode(params))
    assert wire == {"invocationId": "i", "file": "/f", "trigger": "api", "input": {"a": 1},
                    "trace": {"traceId": "t", "spanId": "s"}, "timeoutMs": 5}


def test_invalid_params_name_the_field() -> None:
    raw = b'{"invocationId": "i", "group": 5, "key": "k"}'
    try:
        msgspec.json.decode(raw, type=p.StateKeyParams)
    except msgspec.ValidationError as exc:
        assert "$.group" in str(exc)
    else:
        raise AssertionError("a number for a group must not decode")


def test_schema_lists_every_method_with_its_params() -> None:
    schema = p.generate_schema()
    assert set(schema["methods"]) == set(p.METHODS)
    assert schema["methods"]["log"]["notification"] is True
    assert schema["methods"]["step.invoke"]["params"] == {"$ref": "#/$defs/InvokeParams"}
    assert "InvokeParams" in schema["$defs"]
