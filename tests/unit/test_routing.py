"""Express 4 route matching (motia_core.http.routing): the rules Motia projects rely on."""

from __future__ import annotations

from typing import Any

import pytest

from motia_core.http.routing import (
    METHODS,
    Route,
    RouteError,
    Router,
    RoutesInvalid,
    compile_path,
)


def match(path: str, url: str) -> dict[str, str] | None:
    return compile_path(path).match(url)


def test_named_params_are_decoded_strings() -> None:
    assert match("/users/:id", "/users/42") == {"id": "42"}
    assert match("/users/:id", "/users/a%20b%2Fc") == {"id": "a b/c"}
    assert match("/orgs/:org/users/:user", "/orgs/acme/users/7") == {"org": "acme", "user": "7"}


def test_a_param_never_spans_segments_or_matches_empty() -> None:
    assert match("/users/:id", "/users/1/2") is None
    assert match("/users/:id", "/users/") is None
    assert match("/users/:id", "/users") is None


def test_optional_param_may_be_absent_and_is_then_left_out() -> None:
    pattern = "/users/:id?"
    assert match(pattern, "/users") == {}
    assert match(pattern, "/users/") == {}
    assert match(pattern, "/users/5") == {"id": "5"}
    assert match(pattern, "/users/5/x") is None


def test_wildcards_are_numbered_params() -> None:
    assert match("/files/*", "/files/a/b/c.txt") == {"0": "a/b/c.txt"}
    assert match("/a/*/b/*", "/a/x/y/b/z") == {"0": "x/y", "1": "z"}
    assert match("/files/*", "/other/a") is None


def test_matching_is_case_insensitive_and_keeps_the_param_case() -> None:
    assert match("/Users/:id", "/USERS/AbC") == {"id": "AbC"}


def test_one_trailing_slash_is_tolerated_either_way() -> None:
    assert match("/health", "/health/") == {}
    assert match("/health/", "/health") == {}
    assert match("/health", "/health//") is None
    assert match("/", "/") == {}
    assert match("/", "/x") is None


def test_format_params_custom_patterns_and_string_patterns() -> None:
    assert match("/files/:name.:ext", "/files/report.pdf") == {"name": "report", "ext": "pdf"}
    assert match(r"/n/:id(\d+)", "/n/12") == {"id": "12"}
    assert match(r"/n/:id(\d+)", "/n/ab") is None
    assert match("/ab?cd", "/acd") == {}
    assert match("/ab?cd", "/abcd") == {}
    assert match("/ab+cd", "/abbbcd") == {}
    assert match("/docs/:path*", "/docs/a/b/c") == {"path": "a/b/c"}


def test_literal_characters_are_not_regex() -> None:
    assert match("/a.b", "/a.b") == {}
    assert match("/a.b", "/axb") is None
    assert match("/price$", "/price$") == {}
    assert match(r"/x\*y", "/x*y") == {}


def test_paths_must_start_with_a_slash() -> None:
    with pytest.raises(ValueError, match=r"did you mean '/users'"):
        compile_path("users")


def route(method: str, path: str, step: str = "s", schema: dict[str, Any] | None = None) -> Route:
    return Route(method, path, step, schema)


def test_the_first_registered_match_wins() -> None:
    router = Router([route("GET", "/users/me", "me"), route("GET", "/users/:id", "any"),
                     route("GET", "/users/me", "late")])
    found = router.match("GET", "/users/me")
    assert found is not None and found.route.step == "me"
    other = router.match("GET", "/users/9")
    assert other is not None and other.route.step == "any" and other.path_params == {"id": "9"}


def test_methods_are_separate_and_head_falls_back_to_get_in_order() -> None:
    router = Router([route("POST", "/items", "create"), route("GET", "/items", "list"),
                     route("HEAD", "/items", "head")])
    create = router.match("POST", "/items")
    assert create is not None and create.route.step == "create"
    assert router.match("PUT", "/items") is None
    head = router.match("HEAD", "/items")
    assert head is not None and head.route.step == "list"  # GET was registered first
    only_get = Router([route("GET", "/x", "get")]).match("HEAD", "/x")
    assert only_get is not None and only_get.route.step == "get"
    assert router.methods_for("/items") == ["GET", "HEAD", "POST"]
    assert router.methods_for("/nothing") == []


def test_unsupported_and_lower_case_methods_are_refused_with_a_hint() -> None:
    router = Router()
    with pytest.raises(RouteError, match=r"'get'.*must be upper-case"):
        router.compile(route("get", "/x"))
    with pytest.raises(RouteError, match=r"unsupported method 'TRACE'; use one of"):
        router.compile(route("TRACE", "/x"))
    assert {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} == METHODS


def test_an_invalid_table_is_refused_whole_and_the_old_one_stays() -> None:
    router = Router([route("GET", "/old")])
    bad = [route("GET", "/new"), route("FETCH", "/a"), route("GET", "b"),
           route("POST", "/c", schema={"type": "nope"})]
    with pytest.raises(RoutesInvalid) as caught:
        router.replace(bad)
    problems = [str(error) for error in caught.value.errors]
    assert len(problems) == 3
    assert "FETCH '/a'" in problems[0]
    assert "must start with '/'" in problems[1]
    assert "bodySchema is not a valid JSON Schema" in problems[2]
    assert router.match("GET", "/old") is not None
    assert router.match("GET", "/new") is None


def test_replace_swaps_routes_and_reuses_compiled_schemas() -> None:
    schema = {"type": "object", "required": ["name"]}
    router = Router([route("POST", "/a", schema=schema)])
    first = router.match("POST", "/a")
    router.replace([route("POST", "/b", schema=dict(schema)), route("GET", "/c")])
    assert router.match("POST", "/a") is None
    second = router.match("POST", "/b")
    assert first is not None and second is not None
    assert second.validator is first.validator  # same schema, compiled once
    assert router.routes == (route("POST", "/b"), route("GET", "/c"))
    assert (router.match("GET", "/c") or pytest.fail("no match")).validator is None
