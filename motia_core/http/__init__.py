"""The HTTP layer: api-step routes on aiohttp, the request object, validation and CORS.

It imports nothing from the rest of motia_core: the app wiring hands it routes and an
:class:`ApiHandler`, and gets back an aiohttp application. The one exception is the
``workbench`` subpackage (the Workbench JSON API), which reads the services it shows.
"""

from __future__ import annotations

from motia_core.http.request import parse_qs
from motia_core.http.response import HttpError
from motia_core.http.routing import Route, RouteError, RouteMatch, Router, RoutesInvalid
from motia_core.http.server import (
    HANDLER_KEY,
    ROUTER_KEY,
    SETTINGS_KEY,
    ApiHandler,
    ApiInvocationError,
    ApiOutcome,
    EmitOutcome,
    HttpSettings,
    IncomingTrace,
    app_runner,
    create_app,
)
from motia_core.validation import FieldError, SchemaCache, SchemaInvalid

__all__ = (
    "HANDLER_KEY",
    "ROUTER_KEY",
    "SETTINGS_KEY",
    "ApiHandler",
    "ApiInvocationError",
    "ApiOutcome",
    "EmitOutcome",
    "FieldError",
    "HttpError",
    "HttpSettings",
    "IncomingTrace",
    "Route",
    "RouteError",
    "RouteMatch",
    "Router",
    "RoutesInvalid",
    "SchemaCache",
    "SchemaInvalid",
    "app_runner",
    "create_app",
    "parse_qs",
)
