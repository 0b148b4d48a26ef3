"""The OpenAPI 3.1 document of a project's api steps: one operation per route, from the configs.

Each api step becomes an operation: its method and path (Express ``/tickets/:id`` becomes
``/tickets/{id}``; an optional ``:name?`` gives two paths, with and without it), its path
parameters (strings; a ``:id(\\d+)`` capture becomes a ``pattern``), its ``queryParams``, its
``bodySchema`` as the JSON request body, each ``responseSchema[status]`` as that status's JSON
response, its flows as tags, its name as ``operationId`` and its description. Middleware is not
described (it runs inside the runner and the core only knows its names).

Schemas arrive as JSON Schema (the runners convert zod, pydantic and the like before the core
sees a config). Each one goes to ``components.schemas`` under ``<Step><Role>`` with its own
``$defs``/``definitions`` kept inside it, and every local ``$ref`` is rewritten to point into
that component, so pydantic's ``#/$defs/X`` and zod's recursive ``#`` resolve within the
document. ``$schema`` is dropped (OpenAPI 3.1 reads schemas as JSON Schema 2020-12) and a draft-07
tuple (``items: [...]``) is rewritten as ``prefixItems``.

What cannot be described is named instead of breaking the document: a schema with a ``$ref``
that leaves the schema is replaced by ``{}`` and the operation carries
``x-motia-problems`` with the reason; OPTIONS routes (the core answers every OPTIONS as a CORS
preflight, so such a step is never reached) and files that did not load (whatever they were)
are listed under the document's ``x-motia-skipped``; each of these is also a warning.

When the core validates a body (``bodySchema`` given), the 400 it answers for an invalid one is
described too, unless the step declares its own 400.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motia_core.project import Project
from motia_core.project.steps import ApiConfig, Step

__all__ = ("OPENAPI_VERSION", "OpenApiDocument", "build_openapi", "openapi_path")

OPENAPI_VERSION = "3.1.0"
_MAX_DEPTH = 64
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_STATUS = re.compile(r"[1-5](?:[0-9]{2}|XX)|default")
# One Express path token: an escaped char, a parameter (with capture, star, optional), a
# wildcard, or a regex-ish "string pattern" character (which OpenAPI cannot say).
_TOKEN = re.compile(
    r"\\(.)"
    r"|(?P<prefix>[/.])?:(?P<name>\w+)(?P<capture>\((?:\\.|[^\\)])*\))?(?P<star>\*)?(?P<optional>\?)?"
    r"|(?P<wild>\*)"
    r"|(?P<meta>[?+()])",
    re.DOTALL,
)
_VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "message": {"type": "string"},
                           "keyword": {"type": "string"}},
        }},
    },
    "required": ["error"],
}


@dataclass(frozen=True)
class OpenApiDocument:
    document: dict[str, Any]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _PathParam:
    name: str
    pattern: str | None


@dataclass(frozen=True)
class _Variant:
    """One OpenAPI path an Express path stands for, and its parameters."""

    path: str
    params: tuple[_PathParam, ...]


class _Unsupported(ValueError):
    pass


def openapi_path(express: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The OpenAPI paths an Express path stands for, each with its parameters (name, pattern).

    Raises ``ValueError`` for string patterns (``?``, ``+``, ``( )`` outside a parameter), which
    OpenAPI has no way to say.
    """
    return [(v.path, [(p.name, p.pattern) for p in v.params]) for v in _variants(express)]


def _variants(express: str) -> list[_Variant]:
    # Each piece is fixed text, or a parameter that may be optional (then two variants).
    variants: list[tuple[str, tuple[_PathParam, ...]]] = [("", ())]
    position = 0
    wildcards = 0
    for token in _TOKEN.finditer(express):
        text = express[position:token.start()]
        position = token.end()
        if token[1] is not None:
            text += token[1]
            variants = [(p + _escape(text), ps) for p, ps in variants]
            continue
        variants = [(p + _escape(text), ps) for p, ps in variants]
        if token["meta"]:
            raise _Unsupported(f"the Express pattern character {token['meta']!r} in the path "
                               "has no OpenAPI form")
        if token["wild"]:
            name = str(wildcards)
            wildcards += 1
            param = _PathParam(name, None)
            variants = [(p + "{" + name + "}", (*ps, param)) for p, ps in variants]
            continue
        capture = token["capture"]
        pattern = f"^(?:{capture[1:-1]})$" if capture and not token["star"] else None
        param = _PathParam(token["name"], pattern)
        piece = (token["prefix"] or "") + "{" + token["name"] + "}"
        grown = [(p + piece, (*ps, param)) for p, ps in variants]
        variants = variants + grown if token["optional"] else grown
    tail = express[position:]
    variants = [(p + _escape(tail), ps) for p, ps in variants]
    result: list[_Variant] = []
    seen: set[str] = set()
    for path, params in variants:
        path = path or "/"
        if path not in seen:
            seen.add(path)
            result.append(_Variant(path, params))
    return result


def _escape(text: str) -> str:
    if "{" in text or "}" in text:
        raise _Unsupported("a literal '{' or '}' in the path has no OpenAPI form")
    return text


# --- schemas -----------------------------------------------------------------------------------


def _component_name(*parts: str) -> str:
    return _COMPONENT_NAME.sub("_", "".join(parts)) or "Schema"


def _prepare(schema: Any, component: str) -> tuple[Any, list[str]]:
    """``schema`` ready to live at ``#/components/schemas/<component>``, and its problems."""
    if schema is None:
        return {}, []
    problems: list[str] = []
    prepared = _walk(copy.deepcopy(schema), f"#/components/schemas/{component}", problems, 0)
    if isinstance(prepared, dict):
        prepared.pop("$schema", None)
        prepared.pop("$id", None)  # a base URI would change what the rewritten refs mean
    return ({}, problems) if problems else (prepared, problems)


def _walk(node: Any, base: str, problems: list[str], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        problems.append(f"the schema is nested deeper than {_MAX_DEPTH} levels")
        return {}
    if isinstance(node, list):
        return [_walk(item, base, problems, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key != "$ref" or not isinstance(value, str):
            out[key] = _walk(value, base, problems, depth + 1)
        elif value == "#" or value.startswith("#/"):
            out[key] = base + value[1:]
        else:
            problems.append(f"$ref {value!r} points outside the schema")
    items = out.get("items")
    if isinstance(items, list):  # a draft-07 tuple, in 2020-12 words
        out["prefixItems"] = items
        del out["items"]
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")
    return out


class _Builder:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.paths: dict[str, dict[str, Any]] = {}
        self.components: dict[str, Any] = {}
        self.tags: dict[str, None] = {}
        self.operation_ids: set[str] = set()
        self.skipped: list[dict[str, str]] = []
        self.warnings: list[str] = []

    def rel(self, file: str) -> str:
        try:
            return str(Path(file).relative_to(self.project.root))
        except ValueError:
            return file

    def schema_ref(self, step: Step, role: str, schema: Any, problems: list[str]) -> dict[str, Any]:
        name = _component_name(step.name, role)
        if name in self.components:
            counter = 2
            while f"{name}_{counter}" in self.components:
                counter += 1
            name = f"{name}_{counter}"
        prepared, found = _prepare(schema, name)
        for problem in found:
            problems.append(f"{role}: {problem}; described as any value")
        self.components[name] = prepared
        return {"$ref": f"#/components/schemas/{name}"}

    def operation_id(self, name: str) -> str:
        base = _component_name(name)
        chosen = base
        counter = 2
        while chosen in self.operation_ids:
            chosen = f"{base}_{counter}"
            counter += 1
        self.operation_ids.add(chosen)
        return chosen

    def add(self, step: Step) -> None:
        config = step.config
        assert isinstance(config, ApiConfig)
        if config.method == "OPTIONS":
            self.skip(step, "an OPTIONS route is never reached: the server answers every "
                      "OPTIONS request as a CORS preflight")
            return
        try:
            variants = _variants(config.path)
        except _Unsupported as exc:
            self.skip(step, f"the path cannot be described: {exc}")
            return
        problems: list[str] = []
        body = None
        if config.body_schema is not None and config.method not in _NO_BODY:
            body = self.schema_ref(step, "Body", config.body_schema, problems)
        responses = self.responses(step, config, body is not None, problems)
        for variant in variants:
            operation = self.operation(step, config, variant, problems)
            if body is not None:
                operation["requestBody"] = {"required": True,
                                            "content": {"application/json": {"schema": body}}}
            operation["responses"] = responses
            item = self.paths.setdefault(variant.path, {})
            method = config.method.lower()
            if method in item:
                self.skip(step, f"{config.method} {variant.path} is already described by "
                          f"{item[method]['x-motia-step']['name']}")
                continue
            item[method] = operation
        where = f"{self.rel(step.file)}: {config.method} {config.path}"
        self.warnings.extend(f"{where}: {problem}" for problem in problems)

    def responses(self, step: Step, config: ApiConfig, has_body: bool,
                  problems: list[str]) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        for status, schema in config.response_schema.items():
            if not _STATUS.fullmatch(str(status)):
                problems.append(f"responseSchema key {status!r} is not a status code; left out")
                continue
            response: dict[str, Any] = {"description": f"{status} from {step.name}"}
            if schema is not None:
                ref = self.schema_ref(step, f"Response{status}", schema, problems)
                response["content"] = {"application/json": {"schema": ref}}
            responses[str(status)] = response
        if has_body and "400" not in responses:
            responses["400"] = {
                "description": "The request body does not match bodySchema",
                "content": {"application/json": {"schema": _VALIDATION_ERROR}},
            }
        if not responses:
            responses["default"] = {"description": f"Whatever {step.name} answers "
                                                   "(no responseSchema)"}
        return responses

    def operation(self, step: Step, config: ApiConfig, variant: _Variant,
                  problems: list[str]) -> dict[str, Any]:
        operation: dict[str, Any] = {"operationId": self.operation_id(step.name),
                                     "summary": step.name}
        if config.description:
            operation["description"] = config.description
        if step.flows:
            operation["tags"] = list(step.flows)
            self.tags.update(dict.fromkeys(step.flows))
        parameters: list[dict[str, Any]] = []
        for param in variant.params:
            schema: dict[str, Any] = {"type": "string"}
            if param.pattern is not None:
                schema["pattern"] = param.pattern
            parameters.append({"name": param.name, "in": "path", "required": True,
                               "schema": schema})
        path_names = {p.name for p in variant.params}
        for query in config.query_params:
            if query.name not in path_names:
                entry: dict[str, Any] = {"name": query.name, "in": "query", "required": False,
                                         "schema": {"type": "string"}}
                if query.description:
                    entry["description"] = query.description
                parameters.append(entry)
        if parameters:
            operation["parameters"] = parameters
        operation["x-motia-step"] = {"name": step.name, "file": self.rel(step.file),
                                     "language": step.language}
        if problems:
            operation["x-motia-problems"] = list(problems)
        return operation

    def skip(self, step: Step | None, reason: str, file: str | None = None) -> None:
        entry = {"file": self.rel(file or (step.file if step else "")), "reason": reason}
        if step is not None:
            entry = {"step": step.name, **entry}
        self.skipped.append(entry)
        self.warnings.append(f"{entry['file']}: {reason}; not in the OpenAPI document")


def build_openapi(project: Project, *, title: str | None = None,
                  version: str = "0.0.0") -> OpenApiDocument:
    """The OpenAPI 3.1 document of ``project``'s api steps, and what it had to leave out."""
    builder = _Builder(project)
    for route in project.api_routes:
        builder.add(route.step)
    for file, problems in project.errors.items():
        reason = "; ".join(p.message for p in problems) or "it did not load"
        builder.skip(None, f"not loaded: {reason}", file=file)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title or project.root.name or "motia project", "version": version,
                 "description": "The api steps of this project (generated by motia-core from "
                                "their configs)."},
        "paths": dict(sorted(builder.paths.items())),
    }
    if builder.tags:
        document["tags"] = [{"name": tag} for tag in builder.tags]
    if builder.components:
        document["components"] = {"schemas": builder.components}
    if builder.skipped:
        document["x-motia-skipped"] = builder.skipped
    return OpenApiDocument(document, tuple(builder.warnings))
