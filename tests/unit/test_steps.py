from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from motia_core.project.steps import (
    ApiConfig,
    ConfigError,
    CronConfig,
    Emit,
    EventConfig,
    InvalidStep,
    NoopConfig,
    QueueSettings,
    Step,
    StepConfig,
    can_emit,
    lambda_cpu_for_ram,
    parse_step,
    parse_stream,
)

FILE = "/project/steps/orders/create_order_step.py"


def api(**overrides: Any) -> dict[str, Any]:
    return {"type": "api", "name": "CreateOrder", "path": "/orders", "method": "POST",
            "emits": ["order.created"], **overrides}


def event(**overrides: Any) -> dict[str, Any]:
    return {"type": "event", "name": "Ship", "subscribes": ["order.created"], "emits": [],
            **overrides}


def cron(**overrides: Any) -> dict[str, Any]:
    return {"type": "cron", "name": "Nightly", "cron": "0 0 * * *", "emits": [], **overrides}


def noop(**overrides: Any) -> dict[str, Any]:
    return {"type": "noop", "name": "Human", "virtualEmits": ["x"], "virtualSubscribes": [],
            **overrides}


def problems(config: Any, *, has_handler: bool = True, language: str = "python"
             ) -> list[ConfigError]:
    with pytest.raises(InvalidStep) as info:
        parse_step(FILE, language, config, has_handler)
    assert info.value.file == FILE
    assert all(e.file == FILE for e in info.value.errors)
    return info.value.errors


def the_problem(config: Any, field: str, *fragments: str, **kwargs: Any) -> ConfigError:
    """The one error about ``field``; its text names the file and the field and each fragment."""
    found = [e for e in problems(config, **kwargs) if e.field == field]
    assert len(found) == 1, [str(e) for e in problems(config, **kwargs)]
    error = found[0]
    text = str(error)
    assert text.startswith(f"{FILE}: {field} ")
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, text
    return error


# --- valid configs -------------------------------------------------------------------------


def test_api_step_is_typed_and_emits_are_normalised() -> None:
    step = parse_step(FILE, "python", api(
        emits=["order.created", {"topic": "order.audit", "label": "audit", "conditional": True}],
        flows=["orders"], middleware=[None, "auth"], queryParams=[{"name": "q", "extra": 1}],
        bodySchema={"type": "object", "properties": {"id": {"type": "string"}}},
        responseSchema={"200": {"type": "object"}, "400": None},
    ), True)
    assert isinstance(step.config, ApiConfig)
    assert (step.type, step.name, step.language, step.file) == ("api", "CreateOrder", "python",
                                                                 FILE)
    assert step.flows == ("orders",)
    assert step.emits == ("order.created", "order.audit")
    assert step.config.emits[1] == Emit(topic="order.audit", label="audit", conditional=True)
    assert step.config.middleware == (None, "auth")
    assert step.config.query_params[0].name == "q"
    assert step.subscribes == () and step.queue is None


def test_event_step_gets_the_original_queue_defaults() -> None:
    step = parse_step(FILE, "node", event(), True)
    assert isinstance(step.config, EventConfig)
    assert step.subscribes == ("order.created",)
    assert step.queue == QueueSettings(type="standard", max_retries=3, visibility_timeout=900,
                                       delay_seconds=0)
    assert step.queue.backoff == "fixed" and step.queue.retry_delay_seconds is None
    assert step.config.infrastructure.handler.timeout is None


def test_event_infrastructure_is_merged_over_the_defaults_with_our_extensions() -> None:
    step = parse_step(FILE, "python", event(infrastructure={
        "handler": {"ram": 1024, "cpu": 0.55, "timeout": 30},
        "queue": {"type": "fifo", "maxRetries": 5, "visibilityTimeout": 31, "concurrency": 2,
                  "backoff": "exponential", "retryDelaySeconds": 1.5, "messageGroupId": None},
    }), True)
    assert step.queue is not None
    assert (step.queue.type, step.queue.max_retries, step.queue.visibility_timeout) == (
        "fifo", 5, 31)
    assert step.queue.delay_seconds == 0
    assert (step.queue.backoff, step.queue.retry_delay_seconds, step.queue.concurrency) == (
        "exponential", 1.5, 2)
    assert isinstance(step.config, EventConfig)
    assert step.config.infrastructure.handler.timeout == 30


def test_cron_and_noop_steps() -> None:
    step = parse_step(FILE, "ruby", cron(), True)
    assert isinstance(step.config, CronConfig) and step.type == "cron"
    assert step.config.cron == "0 0 * * *"
    assert parse_step(FILE, "python", cron(cron="*/10 * * * * *"), True).type == "cron"
    quiet = parse_step(FILE, "node", noop(virtualEmits=[{"topic": "x", "label": "l"}],
                                          virtualSubscribes=["y"]), False)
    assert isinstance(quiet.config, NoopConfig) and quiet.type == "noop"
    assert quiet.emits == () and quiet.virtual_emits == ("x",) and quiet.virtual_subscribes == (
        "y",)


def test_null_optional_fields_and_runner_annotations_are_accepted() -> None:
    step = parse_step(FILE, "python", api(description=None, flows=None, bodySchema=None,
                                          middleware=None, __motia_marker=True), True)
    assert step.config.description is None and step.flows == ()
    assert isinstance(step.config, ApiConfig) and step.config.middleware == ()


def test_typed_config_encodes_back_to_motia_json() -> None:
    step = parse_step(FILE, "python", event(infrastructure={"queue": {"maxRetries": 1}},
                                            virtualEmits=["a"]), True)
    wire = msgspec.json.decode(msgspec.json.encode(step.config))
    assert wire["type"] == "event"
    assert wire["virtualEmits"] == [{"topic": "a"}]
    assert wire["infrastructure"]["queue"]["maxRetries"] == 1
    again = msgspec.convert(wire, StepConfig)
    assert again == step.config


# --- common rules --------------------------------------------------------------------------


def test_config_must_be_an_object() -> None:
    the_problem(["not", "a", "dict"], "config", "must be an object", "got a list")


@pytest.mark.parametrize(("value", "fragments"), [
    (None, ("is required", "'api', 'event', 'cron', 'noop'")),
    ("webhook", ("is not a valid step type", "'webhook'")),
    ("API", ("must be lower-case", "write 'api'")),
    (3, ("is not a valid step type", "the number 3")),
])
def test_type_must_be_a_known_step_type(value: Any, fragments: tuple[str, ...]) -> None:
    config = api(type=value)
    the_problem(config, "config.type", *fragments)


def test_bad_type_still_reports_a_bad_name() -> None:
    fields = {e.field for e in problems({"type": "x", "name": 5})}
    assert fields == {"config.type", "config.name"}


@pytest.mark.parametrize(("value", "fragment"), [
    ("", "must not be empty"), ("  ", "must not be empty"), (7, "must be a string, got the "
                                                                "number 7"),
])
def test_name_must_be_a_non_empty_string(value: Any, fragment: str) -> None:
    the_problem(api(name=value), "config.name", fragment, "'CreateOrder'")


@pytest.mark.parametrize(("factory", "missing"), [
    (api, "name"), (api, "path"), (api, "method"), (api, "emits"),
    (event, "name"), (event, "subscribes"), (event, "emits"),
    (cron, "name"), (cron, "cron"), (cron, "emits"),
    (noop, "name"), (noop, "virtualEmits"), (noop, "virtualSubscribes"),
])
def test_required_fields_per_type(factory: Any, missing: str) -> None:
    config = factory()
    del config[missing]
    error = the_problem(config, f"config.{missing}", f"is required for {config['type']} steps",
                        "add e.g.")
    assert error.hint.startswith(f"add e.g. {missing!r}:")


@pytest.mark.parametrize("factory", [api, event, cron, noop])
def test_unknown_keys_make_the_step_invalid_with_a_suggestion(factory: Any) -> None:
    error = the_problem(factory(nmae="x"), "config.nmae", "is not a field of", "did you mean "
                                                                                "'name'?")
    assert error.message.endswith(f"{factory()['type']} step")
    the_problem(factory(colour="red"), "config.colour", "is not a field of", "remove it")


@pytest.mark.parametrize(("factory", "key", "owners"), [
    (api, "infrastructure", "event steps"),
    (cron, "infrastructure", "event steps"),
    (api, "subscribes", "event steps"),
    (event, "path", "api steps"),
    (event, "cron", "cron steps"),
    (noop, "emits", "api and event and cron steps"),
    (noop, "includeFiles", "api and event and cron steps"),
])
def test_fields_of_other_step_types_are_refused_with_where_they_belong(
    factory: Any, key: str, owners: str
) -> None:
    the_problem(factory(**{key: {} if key == "infrastructure" else ["x"]}), f"config.{key}",
                "is not allowed on", f"belongs to {owners}")


@pytest.mark.parametrize("key", ["flows", "subscribes", "virtualSubscribes", "includeFiles"])
def test_string_lists(key: str) -> None:
    config = event(**{key: "order.created"})
    the_problem(config, f"config.{key}", "must be a list of strings",
                "write e.g. ['order.created']")
    the_problem(event(**{key: ["ok", 3]}), f"config.{key}[1]", "must be a string")


def test_description_may_be_empty_but_must_be_text() -> None:
    parse_step(FILE, "python", api(description=""), True)
    the_problem(api(description=["x"]), "config.description", "must be a string")


@pytest.mark.parametrize("key", ["emits", "virtualEmits"])
def test_emits_rules(key: str) -> None:
    the_problem(event(**{key: "a"}), f"config.{key}", "must be a list of topics",
                "[] allows any topic")
    the_problem(event(**{key: [5]}), f"config.{key}[0]", "must be a topic string or")
    the_problem(event(**{key: [""]}), f"config.{key}[0]", "must not be empty")
    the_problem(event(**{key: [{"label": "x"}]}), f"config.{key}[0].topic", "is required")
    the_problem(event(**{key: [{"topic": "a", "colour": 1}]}), f"config.{key}[0].colour",
                "is not a field of an emit")
    the_problem(event(**{key: [{"topic": "a", "label": 2}]}), f"config.{key}[0].label",
                "must be a string")
    the_problem(event(**{key: [{"topic": "a", "conditional": "yes"}]}),
                f"config.{key}[0].conditional", "must be true or false")


# --- api -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_every_supported_method(method: str) -> None:
    config = parse_step(FILE, "python", api(method=method), True).config
    assert isinstance(config, ApiConfig) and config.method == method


def test_method_rules() -> None:
    the_problem(api(method="get"), "config.method", "must be upper-case, got 'get'", "write 'GET'")
    the_problem(api(method="FETCH"), "config.method", "must be one of GET, POST, PUT, DELETE, "
                                                       "PATCH, OPTIONS, HEAD", "'FETCH'")
    the_problem(api(method=1), "config.method", "must be a string")


def test_path_must_start_with_a_slash() -> None:
    the_problem(api(path="orders"), "config.path", "must start with '/'", "write '/orders'")
    the_problem(api(path=""), "config.path", "must not be empty")
    assert parse_step(FILE, "python", api(path="/users/:id/:tab?"), True)


@pytest.mark.parametrize("key", ["bodySchema", "input"])
def test_schemas_must_be_valid_json_schema(key: str) -> None:
    factory = api if key == "bodySchema" else event
    the_problem(factory(**{key: "z.object()"}), f"config.{key}", "must be a JSON Schema object",
                "model_json_schema()")
    the_problem(factory(**{key: {"type": "object", "properties": {"age": {"type": "integr"}}}}),
                f"config.{key}.properties.age.type", "is not valid JSON Schema")
    # Any valid schema passes, including draft-07 output of zod-to-json-schema.
    parse_step(FILE, "python", factory(**{key: {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"email": {"type": "string", "pattern": "^\\p{L}+$"}},
        "additionalProperties": False}}), True)
    parse_step(FILE, "python", factory(**{key: {"type": "object"}}), True)


def test_response_schema_rules() -> None:
    the_problem(api(responseSchema=[]), "config.responseSchema", "must map status codes")
    the_problem(api(responseSchema={"200": {"type": 5}}), "config.responseSchema.200.type",
                "is not valid JSON Schema")


def test_query_params_and_middleware_rules() -> None:
    the_problem(api(queryParams={"name": "q"}), "config.queryParams", "must be a list")
    the_problem(api(queryParams=["q"]), "config.queryParams[0]", "must be an object")
    the_problem(api(queryParams=[{"description": "d"}]), "config.queryParams[0].name",
                "must be a string")
    the_problem(api(queryParams=[{"name": "q", "description": 1}]),
                "config.queryParams[0].description", "must be a string")
    the_problem(api(middleware="auth"), "config.middleware", "must be a list")


# --- cron ----------------------------------------------------------------------------------


def test_cron_expression_is_validated() -> None:
    error = the_problem(cron(cron="61 * * * *"), "config.cron", "is not a valid cron expression",
                        "'61 * * * *'", "the minute field has 61", "allows 0-59")
    assert error.hint.startswith("the minute field allows")
    the_problem(cron(cron="* * *"), "config.cron", "has 3 fields", "expected 5 fields")
    the_problem(cron(cron=5), "config.cron", "must be a string")


# --- handler -------------------------------------------------------------------------------


@pytest.mark.parametrize(("factory", "language", "hint"), [
    (api, "python", "async def handler(req, ctx):"),
    (event, "python", "async def handler(input, ctx):"),
    (cron, "python", "async def handler(ctx):"),
    (api, "node", "export const handler = async (req, ctx) =>"),
    (event, "ruby", "def handler(input, ctx)"),
    (cron, "elixir", "define a handler(ctx)"),
])
def test_api_event_and_cron_steps_need_a_handler(factory: Any, language: str, hint: str) -> None:
    the_problem(factory(), "handler", "exports no handler", hint, has_handler=False,
                language=language)


def test_noop_steps_need_no_handler() -> None:
    assert parse_step(FILE, "python", noop(), False).has_handler is False


# --- infrastructure ------------------------------------------------------------------------


def infra(**parts: Any) -> dict[str, Any]:
    return event(infrastructure=parts)


INFRA = "config.infrastructure"


def test_infrastructure_shape() -> None:
    the_problem(event(infrastructure=[]), INFRA, "must be an object {handler?, queue?}")
    the_problem(infra(handler=3), f"{INFRA}.handler", "must be an object")
    the_problem(infra(queue="fifo"), f"{INFRA}.queue", "must be an object")
    the_problem(infra(retries=3), f"{INFRA}.retries", "is not a field of infrastructure")
    the_problem(infra(handler={"memory": 1}), f"{INFRA}.handler.memory",
                "is not a field of infrastructure.handler")
    the_problem(infra(queue={"maxRetry": 1}), f"{INFRA}.queue.maxRetry",
                "is not a field of infrastructure.queue", "did you mean 'maxRetries'?")


@pytest.mark.parametrize(("settings", "field", "fragment"), [
    ({"ram": 64}, "ram", "must be between 128 and 10240 MB, got 64"),
    ({"ram": 20000}, "ram", "must be between 128 and 10240 MB, got 20000"),
    ({"ram": "1GB"}, "ram", "must be a number"),
    ({"timeout": 0}, "timeout", "must be between 1 and 900 seconds, got 0"),
    ({"timeout": 901}, "timeout", "must be between 1 and 900 seconds"),
    ({"timeout": True}, "timeout", "must be a number, got the boolean true"),
    ({"cpu": -1}, "cpu", "must be at least 0"),
    ({"ram": 1024, "cpu": 2}, "cpu", "(2 vCPU) is not proportional to ram (1024 MB)"),
    ({"ram": 3008, "cpu": 1.2}, "cpu", "use about 1.50 vCPU"),
])
def test_handler_settings(settings: dict[str, Any], field: str, fragment: str) -> None:
    the_problem(infra(handler=settings), f"{INFRA}.handler.{field}", fragment)


def test_cpu_within_a_tenth_of_the_lambda_ratio_passes() -> None:
    for ram, cpu in ((1024, 0.55), (1024, 0.41), (2528, 1.25), (128, 0.0625), (10240, 5.0)):
        parse_step(FILE, "python", infra(handler={"ram": ram, "cpu": cpu}), True)
    assert lambda_cpu_for_ram(2048) == 1.0
    assert lambda_cpu_for_ram(2528) == pytest.approx(1.25)
    assert lambda_cpu_for_ram(64) == 0.0625 and lambda_cpu_for_ram(20000) == 5.0


@pytest.mark.parametrize(("settings", "field", "fragment"), [
    ({"type": "priority"}, "type", "must be one of 'standard', 'fifo'"),
    ({"maxRetries": -1}, "maxRetries", "must be at least 0, got -1"),
    ({"maxRetries": 1.5}, "maxRetries", "must be a whole number"),
    ({"visibilityTimeout": -5}, "visibilityTimeout", "must be at least 0"),
    ({"delaySeconds": 901}, "delaySeconds", "must be between 0 and 900 seconds"),
    ({"delaySeconds": -1}, "delaySeconds", "must be between 0 and 900 seconds"),
    ({"concurrency": 0}, "concurrency", "must be at least 1"),
    ({"messageGroupId": 3}, "messageGroupId", "must be a string"),
    ({"backoff": "linear"}, "backoff", "must be one of 'fixed', 'exponential'"),
    ({"retryDelaySeconds": -0.5}, "retryDelaySeconds", "must be at least 0"),
])
def test_queue_settings(settings: dict[str, Any], field: str, fragment: str) -> None:
    the_problem(infra(queue=settings), f"{INFRA}.queue.{field}", fragment)


def test_visibility_timeout_must_exceed_the_handler_timeout() -> None:
    the_problem(infra(handler={"timeout": 30}, queue={"visibilityTimeout": 30}),
                f"{INFRA}.queue.visibilityTimeout",
                "(30s) must be greater than handler.timeout (30s)")
    parse_step(FILE, "python", infra(handler={"timeout": 30}, queue={"visibilityTimeout": 31}),
               True)


def test_whole_numbers_written_as_floats_are_accepted() -> None:
    step = parse_step(FILE, "node", infra(queue={"maxRetries": 2.0}), True)
    assert step.queue is not None and step.queue.max_retries == 2


# --- all errors at once, and how they read -------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    errors = problems(api(method="get", path="x", emits="a", extra=1, infrastructure={}),
                      has_handler=False)
    assert [e.field for e in errors] == [
        "config.infrastructure", "config.extra", "config.path", "config.method", "config.emits",
        "handler"]


def test_error_text_is_one_sentence_naming_file_and_field_and_relative_to_a_root() -> None:
    [error] = problems(api(method="get"))
    assert str(error) == f"{FILE}: config.method must be upper-case, got 'get'; write 'GET'"
    assert error.describe(Path("/project")) == (
        "steps/orders/create_order_step.py: config.method must be upper-case, got 'get'; "
        "write 'GET'")
    assert error.describe(Path("/elsewhere")).startswith(FILE)
    with pytest.raises(InvalidStep) as info:
        parse_step(FILE, "python", api(method="get", path="x"), True)
    assert str(info.value).splitlines() == [str(e) for e in info.value.errors]


def test_a_load_error_without_a_field_is_not_prefixed_twice() -> None:
    named = ConfigError(FILE, "", "create_order_step.py could not be imported: boom")
    assert str(named) == "create_order_step.py could not be imported: boom"
    anonymous = ConfigError(FILE, "", "the runner crashed", "see its log")
    assert str(anonymous) == f"{FILE}: the runner crashed; see its log"


# --- emit permission -----------------------------------------------------------------------


def step_of(config: dict[str, Any], has_handler: bool = True) -> Step:
    return parse_step(FILE, "python", config, has_handler)


def test_can_emit_declared_topics_only() -> None:
    step = step_of(api(emits=["a", {"topic": "b"}], virtualEmits=["c"]))
    assert can_emit(step, "a") and can_emit(step, "b")
    assert not can_emit(step, "c")  # virtualEmits never grant permission
    assert not can_emit(step, "z")


def test_empty_emits_allows_any_topic_and_noop_never_emits() -> None:
    assert can_emit(step_of(event(emits=[])), "anything")
    assert can_emit(step_of(cron(emits=[])), "anything")
    assert not can_emit(step_of(noop(virtualEmits=[]), has_handler=False), "anything")
    assert not can_emit(step_of(noop(virtualEmits=["x"]), has_handler=False), "x")


# --- streams -------------------------------------------------------------------------------


STREAM = "/project/steps/todo_stream.py"


def stream_problem(config: Any, field: str, *fragments: str) -> None:
    with pytest.raises(InvalidStep) as info:
        parse_stream(STREAM, config)
    found = [e for e in info.value.errors if e.field == field]
    assert len(found) == 1, [str(e) for e in info.value.errors]
    text = str(found[0])
    assert text.startswith(f"{STREAM}: {field} ")
    for fragment in fragments:
        assert fragment in text, text


def test_stream_definition() -> None:
    config = {"name": "todo", "schema": {"type": "object"},
              "baseConfig": {"storageType": "default"}, "__motia_hasCanAccess": True}
    stream = parse_stream(STREAM, config)
    assert (stream.name, stream.file, stream.has_can_access) == ("todo", STREAM, True)
    assert stream.schema == {"type": "object"}
    assert stream.base_config.storage_type == "default"
    plain = parse_stream(STREAM, {"name": "todo", "canAccess": None})
    assert plain.has_can_access is False
    assert parse_stream(STREAM, {"name": "todo", "canAccess": "fn"}).has_can_access is True


def test_stream_rules() -> None:
    stream_problem([], "config", "must be an object")
    stream_problem({"schema": {}}, "config.name", "is required", "ctx.streams")
    stream_problem({"name": ""}, "config.name", "must not be empty")
    stream_problem({"name": "t", "colour": 1}, "config.colour", "is not a field of a stream")
    stream_problem({"name": "t", "schema": {"type": "nope"}}, "config.schema.type",
                   "is not valid JSON Schema")
    stream_problem({"name": "t", "baseConfig": "default"}, "config.baseConfig",
                   "must be an object")
    stream_problem({"name": "t", "baseConfig": {"storageType": "custom", "factory": None}},
                   "config.baseConfig.storageType", "cannot be 'custom'", "use 'default'")
    stream_problem({"name": "t", "baseConfig": {"storageType": "redis"}},
                   "config.baseConfig.storageType", "must be 'default'")
    stream_problem({"name": "t", "baseConfig": {"kind": 1}}, "config.baseConfig.kind",
                   "is not a field of baseConfig")
