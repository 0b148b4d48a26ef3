"""Express 4 style routes for api steps, compiled once and matched in registration order.

Motia projects declare paths in Express 4 syntax (``/users/:id``, ``/files/:name?``, ``/assets/*``)
and rely on Express's matching rules: case-insensitive, a trailing slash tolerated, the first
registered match wins, parameters arrive as decoded strings. This module reproduces those rules
with one regular expression per route. The table can be swapped at runtime (hot reload) with
:meth:`Router.replace`: readers see either the old or the new table, never a mix.

Deliberate simplifications of path-to-regexp 0.1 (what Express 4 uses): unnamed ``( )`` groups
do not capture, and ``:name*`` captures the whole remainder (``a/b/c``) into ``name``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from motia_core.validation import BodyValidator, SchemaCache, SchemaInvalid

__all__ = (
    "METHODS",
    "CompiledRoute",
    "Route",
    "RouteError",
    "RouteMatch",
    "Router",
    "RoutesInvalid",
    "compile_path",
)

# OPTIONS is accepted (the original registers it) but CORS preflight answers every OPTIONS first.
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})

# One token of an Express path: an escaped char, a parameter, a wildcard, or a regex-ish char.
_TOKEN = re.compile(
    r"\\(.)"                                            # \x: a literal x
    r"|(?P<slash>/)?(?P<format>\.)?:(?P<name>\w+)"      # /:name or .:name
    r"(?P<capture>\((?:\\.|[^\\)])*\))?(?P<star>\*)?(?P<optional>\?)?"
    r"|(?P<wild>\*)"                                    # * (params "0", "1", ...)
    r"|(?P<meta>[?+()])",                               # Express "string patterns"
    re.DOTALL,
)


@dataclass(frozen=True)
class Route:
    """One api step's endpoint. ``step`` is opaque here: it is handed back on a match."""

    method: str
    path: str
    step: Any = field(compare=False)
    body_schema: dict[str, Any] | None = field(default=None, compare=False)


class RouteError(ValueError):
    """A route that cannot be served: an unsupported method, a malformed path or body schema."""

    def __init__(self, route: Route, problem: str) -> None:
        self.route = route
        self.problem = problem
        super().__init__(f"api route {route.method} {route.path!r}: {problem}")


class RoutesInvalid(ValueError):
    """Some routes of a table are invalid; the table was not installed."""

    def __init__(self, errors: Sequence[RouteError]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"{len(self.errors)} api route(s) cannot be served:\n{lines}")


@dataclass(frozen=True)
class PathPattern:
    """A compiled Express path: the regex and, per regex group, the parameter's name."""

    source: str
    regex: re.Pattern[str]
    params: tuple[tuple[str, str], ...]  # (group name, parameter name)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path)
        if found is None:
            return None
        params: dict[str, str] = {}
        for group, name in self.params:
            value = found.group(group)
            if value is not None:  # an optional parameter that is absent stays absent
                params[name] = unquote(value)
        return params


def _param(token: re.Match[str], group: str) -> str:
    fmt = r"\." if token["format"] else ""
    slash = "/" if token["slash"] else ""
    if token["capture"]:
        capture = "(?:" + token["capture"][1:-1] + ")"
    else:
        capture = f"[^/{fmt}]+?"
    if token["star"]:
        capture += r"(?:[/.].*?)?"
    return f"(?:{fmt}{slash}(?P<{group}>{capture})){token['optional'] or ''}"


def compile_path(path: str) -> PathPattern:
    """Compile an Express 4 path; raises ``ValueError`` naming the problem."""
    if not path.startswith("/"):
        raise ValueError(f"the path must start with '/' (did you mean '/{path}'?)")
    parts: list[str] = []
    params: list[tuple[str, str]] = []
    position = 0
    wildcards = 0
    for token in _TOKEN.finditer(path):
        parts.append(re.escape(path[position : token.start()]))
        position = token.end()
        group = f"p{len(params)}"
        if token[1] is not None:
            parts.append(re.escape(token[1]))
        elif token["name"]:
            parts.append(_param(token, group))
            params.append((group, token["name"]))
        elif token["wild"]:
            parts.append(f"(?P<{group}>.*)")
            params.append((group, str(wildcards)))
            wildcards += 1
        else:
            parts.append("(?:" if token["meta"] == "(" else token["meta"])
    parts.append(re.escape(path[position:]))
    body = "".join(parts)
    # Non-strict Express routing: one trailing slash is optional, whichever way it was written.
    body += "?" if path.endswith("/") and len(path) > 1 else "/?"
    if path == "/":
        body = "/?"
    try:
        regex = re.compile(f"{body}\\Z", re.IGNORECASE | re.DOTALL)
    except re.error as exc:
        raise ValueError(f"the path is not a valid Express pattern ({exc})") from exc
    return PathPattern(path, regex, tuple(params))


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: PathPattern
    validator: BodyValidator | None


@dataclass(frozen=True)
class RouteMatch:
    """A request's route: the step's route, its decoded path parameters, its body validator."""

    route: Route
    path_params: dict[str, str]
    validator: BodyValidator | None


class Router:
    """The api routes, grouped by method, first registered match wins.

    ``HEAD`` requests also match ``GET`` routes, in registration order, as Express does.
    """

    def __init__(self, routes: Iterable[Route] = (), *, schemas: SchemaCache | None = None) -> None:
        self._schemas = schemas if schemas is not None else SchemaCache()
        self._routes: tuple[Route, ...] = ()
        self._compiled: tuple[CompiledRoute, ...] = ()
        self._table: dict[str, tuple[CompiledRoute, ...]] = {}
        self.replace(routes)

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def compile(self, route: Route) -> CompiledRoute:
        """Compile one route, or raise :class:`RouteError` saying what is wrong and the fix."""
        if route.method not in METHODS:
            hint = " (methods must be upper-case)" if route.method.upper() in METHODS else ""
            allowed = ", ".join(sorted(METHODS))
            raise RouteError(
                route, f"unsupported method {route.method!r}{hint}; use one of {allowed}")
        try:
            pattern = compile_path(route.path)
        except ValueError as exc:
            raise RouteError(route, str(exc)) from exc
        validator = None
        if route.body_schema is not None:
            try:
                validator = self._schemas.get(route.body_schema)
            except SchemaInvalid as exc:
                raise RouteError(route, f"bodySchema is not a valid JSON Schema: {exc}") from exc
        return CompiledRoute(route, pattern, validator)

    def replace(self, routes: Iterable[Route]) -> None:
        """Install a new table atomically; raises :class:`RoutesInvalid` (and keeps the old one)."""
        routes = tuple(routes)
        compiled: list[CompiledRoute] = []
        errors: list[RouteError] = []
        for route in routes:
            try:
                compiled.append(self.compile(route))
            except RouteError as exc:
                errors.append(exc)
        if errors:
            raise RoutesInvalid(errors)
        table: dict[str, tuple[CompiledRoute, ...]] = {}
        for method in METHODS:
            accepted = {method, "GET"} if method == "HEAD" else {method}
            table[method] = tuple(c for c in compiled if c.route.method in accepted)
        self._routes, self._compiled, self._table = routes, tuple(compiled), table
        self._schemas.prune(c.validator for c in compiled if c.validator is not None)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The first route for ``method`` whose pattern matches the raw (still encoded) ``path``."""
        for compiled in self._table.get(method, ()):
            params = compiled.pattern.match(path)
            if params is not None:
                return RouteMatch(compiled.route, params, compiled.validator)
        return None

    def methods_for(self, path: str) -> list[str]:
        """Every method some route serves at ``path``: the hint in a 404 for a wrong method."""
        return sorted({c.route.method for c in self._compiled if c.pattern.match(path) is not None})
