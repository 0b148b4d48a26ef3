"""Query strings, bodies and body validation of the api request object (motia_core.http)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from motia_core.http.request import QS_PARAMETER_LIMIT, node_headers, parse_body, parse_qs
from motia_core.http.response import HttpError, to_response
from motia_core.validation import MAX_REPORTED_ERRORS, SchemaCache, SchemaInvalid


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        ("a=1&b=two", {"a": "1", "b": "two"}),
        ("a=1&a=2&a=3", {"a": ["1", "2", "3"]}),
        ("a[]=1&a[]=2", {"a": ["1", "2"]}),
        ("user[name]=Ann&user[age]=3", {"user": {"name": "Ann", "age": "3"}}),
        ("a[b][c]=deep", {"a": {"b": {"c": "deep"}}}),
        ("a[1]=b&a[3]=c", {"a": ["b", "c"]}),  # sparse indexes are compacted
        ("a[21]=x", {"a": {"21": "x"}}),  # past qs's array limit: an object key
        ("a[0][n]=1&a[0][m]=2&a[1][n]=3", {"a": [{"n": "1", "m": "2"}, {"n": "3"}]}),
        ("a=1&a[b]=2", {"a": ["1", {"b": "2"}]}),
        ("flag", {"flag": ""}),
        ("q=a+b%20c&e=%zz", {"q": "a b c", "e": "%zz"}),
        ("a%5Bb%5D=1", {"a": {"b": "1"}}),
        ("k=%26%3D", {"k": "&="}),
        ("=x&&", {}),
        ("a[b][c][d][e][f][g][h]=1",
         {"a": {"b": {"c": {"d": {"e": {"f": {"[g][h]": "1"}}}}}}}),
    ],
)
def test_qs_extended_parsing(query: str, expected: dict[str, Any]) -> None:
    assert parse_qs(query) == expected


def test_query_strings_past_the_parameter_limit_are_cut_but_forms_are_refused() -> None:
    text = "&".join(f"k{i}=v" for i in range(QS_PARAMETER_LIMIT + 5))
    assert len(parse_qs(text)) == QS_PARAMETER_LIMIT
    with pytest.raises(HttpError) as caught:
        parse_body(text.encode(), "application/x-www-form-urlencoded", None)
    assert caught.value.status == 413
    assert caught.value.payload()["error"] == "Too many parameters"


def test_json_bodies_parse_and_an_empty_one_is_an_empty_object() -> None:
    parsed = parse_body(b'{"a": [1, {"b": null}]}', "application/json", None)
    assert parsed == {"a": [1, {"b": None}]}
    assert parse_body(b"[1,2]", "application/json", "utf-8") == [1, 2]
    assert parse_body(b"", "application/json", None) == {}
    assert parse_body("\ufeff{}".encode(), "application/json", None) == {}


@pytest.mark.parametrize("raw", [b"{bad", b'{"a": 1,}', b'{"a": 1} x', b"NaN"])
def test_malformed_json_is_a_400_with_detail(raw: bytes) -> None:
    with pytest.raises(HttpError) as caught:
        parse_body(raw, "application/json", None)
    assert caught.value.status == 400
    payload = caught.value.payload()
    assert payload["error"] == "Invalid JSON body"
    assert "malformed" in payload["detail"] or "JSON" in payload["detail"]


def test_json_top_level_must_be_an_object_or_array_as_in_express_strict_mode() -> None:
    with pytest.raises(HttpError) as caught:
        parse_body(b'"hello"', "application/json", None)
    assert caught.value.status == 400
    assert "not str" in caught.value.payload()["detail"]


def test_form_and_text_bodies() -> None:
    form = parse_body(b"name=Ann&tags=a&tags=b&addr[city]=Oslo",
                      "application/x-www-form-urlencoded", None)
    assert form == {"name": "Ann", "tags": ["a", "b"], "addr": {"city": "Oslo"}}
    assert parse_body(b"", "application/x-www-form-urlencoded", None) == {}
    assert parse_body("héllo".encode("latin-1"), "text/plain", "latin-1") == "héllo"
    assert parse_body(b"", "text/plain", None) == ""


def test_an_unknown_charset_is_415_and_undecodable_bytes_400() -> None:
    with pytest.raises(HttpError) as unknown:
        parse_body(b"{}", "application/json", "klingon-8")
    assert unknown.value.status == 415
    assert unknown.value.payload()["charset"] == "klingon-8"
    with pytest.raises(HttpError) as undecodable:
        parse_body(b"\xff\xfe\xfa", "text/plain", "utf-8")
    assert undecodable.value.status == 400
    assert undecodable.value.payload()["error"] == "Invalid body encoding"


# --- body validation --------------------------------------------------------------------------

PET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["owner", "pets"],
    "additionalProperties": False,
    "properties": {
        "owner": {"type": "string", "minLength": 1},
        "pets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            },
        },
    },
}


def test_every_failing_field_is_listed_with_a_json_pointer() -> None:
    validator = SchemaCache().get(PET_SCHEMA)
    body = {"pets": [{"name": 1}, {"age": "old"}], "extra": True, "more": 1}
    errors = {(e.path, e.keyword) for e in validator.errors(body)}
    assert errors == {
        ("/owner", "required"),
        ("/pets/0/name", "type"),
        ("/pets/1/name", "required"),
        ("/pets/1/age", "type"),
        ("/extra", "additionalProperties"),
        ("/more", "additionalProperties"),
    }
    assert validator.errors({"owner": "Ann", "pets": []}) == []
    root = validator.errors("text")
    assert [(e.path, e.keyword) for e in root] == [("", "type")]
    assert "is not of type 'object'" in root[0].message


def test_pointer_segments_are_escaped_and_reports_are_bounded() -> None:
    cache = SchemaCache()
    odd = cache.get({"properties": {"a/b~c": {"type": "string"}}})
    assert [e.path for e in odd.errors({"a/b~c": 1})] == ["/a~1b~0c"]
    many = cache.get({"type": "array", "items": {"type": "string"}})
    assert len(many.errors(list(range(500)))) == MAX_REPORTED_ERRORS


def test_the_draft_is_chosen_by_dollar_schema() -> None:
    cache = SchemaCache()
    # prefixItems exists only in 2020-12; draft-07 ignores it.
    items = {"prefixItems": [{"type": "string"}]}
    modern = cache.get({"$schema": "https://json-schema.org/draft/2020-12/schema", **items})
    legacy = cache.get({"$schema": "http://json-schema.org/draft-07/schema#", **items})
    default = cache.get(dict(items))
    assert [e.keyword for e in modern.errors([1])] == ["type"]
    assert legacy.errors([1]) == []
    assert default.draft is legacy.draft
    with pytest.raises(SchemaInvalid, match=r"unknown '\$schema'"):
        cache.get({"$schema": "https://example.com/my-dialect"})


def test_invalid_schemas_are_refused_with_the_place_and_compiled_ones_cached() -> None:
    cache = SchemaCache()
    with pytest.raises(SchemaInvalid, match=r"at /properties/age"):
        cache.get({"properties": {"age": {"type": "whole number"}}})
    first = cache.get({"type": "object", "required": ["a"]})
    assert cache.get({"required": ["a"], "type": "object"}) is first
    assert len(cache) == 1
    cache.prune([])
    assert len(cache) == 0


@pytest.mark.parametrize(("sent", "shown"), [
    ([("Host", "h"), ("X-A", "1")], {"host": "h", "x-a": "1"}),
    ([("Set-Cookie", "s=1")], {"set-cookie": ["s=1"]}),  # a list even when alone, as in Node
    ([("X-A", "1"), ("x-a", "2"), ("Age", "3"), ("age", "4")], {"x-a": "1, 2", "age": "3"}),
    ([("X-B", "caf\u00e9")], {"x-b": "caf\u00e9"}),  # not ASCII: the careful way
])
def test_node_headers_look_like_nodes(sent: list[tuple[str, str]],
                                      shown: dict[str, Any]) -> None:
    request = make_mocked_request("GET", "/", headers=CIMultiDict(sent))
    assert node_headers(request) == shown


@pytest.mark.parametrize(("body", "content_type", "sent"), [
    ({"a": 1}, "application/json; charset=utf-8", b'{"a":1}'),
    ([], "application/json; charset=utf-8", b"[]"),
    ({"type": "Buffer", "data": []}, "application/octet-stream", b""),
    ({"type": "Buffer", "data": [104, 105]}, "application/octet-stream", b"hi"),
])
def test_bodies_without_headers(body: Any, content_type: str, sent: bytes) -> None:
    response = to_response({"status": 201, "body": body})
    assert (response.status, response.headers["Content-Type"], response.body) == (
        201, content_type, sent)
