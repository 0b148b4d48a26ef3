"""Project settings: defaults that need nothing installed, a `motia.toml` file, env vars, flags.

Precedence, lowest first: the defaults below, `<project>/motia.toml`, `MOTIA_*` environment
variables, then whatever the CLI passes to :meth:`Settings.with_overrides`. Every field says what
it changes; the file uses the same names in snake_case, grouped as in the example in README.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ("SETTINGS_FILE", "Settings", "SettingsError")

SETTINGS_FILE = "motia.toml"


class SettingsError(ValueError):
    """A setting in motia.toml or the environment has the wrong name or type."""


@dataclass(frozen=True)
class Settings:
    project_root: Path
    # Where runtime data lives (state, queues, traces), relative to the project root.
    motia_dir: str = ".motia"
    # State adapter: "sqlite" (default, durable, under motia_dir), "memory" or "redis".
    state: str = "sqlite"
    # Event queue: "sqlite" (default: an accepted event survives a crash), "memory" or "redis".
    queue: str = "sqlite"
    # Where stream items live and how their changes reach subscribers ([streams] store):
    # "sqlite", "memory" or "redis" (items in Redis, and a change made on one instance reaches
    # the WebSocket clients of every instance). None: the same as `state`.
    streams: str | None = None
    # The Redis server of the "redis" adapters (`[redis] url` in motia.toml), e.g.
    # redis://127.0.0.1:6379/0; instances sharing the work use the same URL and prefix.
    redis_url: str | None = None
    # Every key motia-core writes to Redis starts with this (`[redis] prefix`).
    redis_prefix: str = "motia:"
    host: str = "127.0.0.1"
    port: int = 3000
    # Languages whose runners start; None = every language the project has steps in.
    runners: tuple[str, ...] | None = None
    # Runner processes per language, e.g. {"python": 4}; 1 when not given.
    workers: Mapping[str, int] = field(default_factory=dict)
    # Largest request body accepted, in bytes (413 above it).
    max_body_bytes: int = 10 * 1024 * 1024
    # Api requests served at once ([http] max_concurrent_invocations); past it a 503 JSON error.
    max_concurrent_invocations: int = 1024
    # Enforce api steps' bodySchema (400 with the failing fields).
    validate_bodies: bool = True
    # Refuse event data that fails the subscriber's `input` schema (the original only warns).
    strict_event_input: bool = False
    # Time an api or cron handler may take; event steps use infrastructure.handler.timeout.
    handler_timeout_s: float = 30.0
    # How long after its handler returned the work it left running (a task, timer or thread
    # not awaited) may still call ctx under its trace; 0 refuses such calls.
    leftover_work_s: float = 60.0
    # "module:function" (importable from the project root) called with (headers, url) on each
    # stream WebSocket handshake; it returns the socket's auth context or raises to refuse (401).
    stream_auth: str | None = None
    # On SIGTERM/SIGINT: how long event deliveries under way may take to finish.
    shutdown_grace_s: float = 10.0
    json_logs: bool | None = None
    log_level: str = "info"
    # Origins granted cross-origin access ([http] cors_origins): exact origins such as
    # "https://app.example.com", "localhost" (any port of localhost, 127.0.0.1 or [::1]), or "*"
    # (any origin, never with credentials). None: `motia dev` grants localhost, `motia start`
    # grants nothing.
    cors_origins: tuple[str, ...] | None = None
    # The bearer token of the operator endpoints (POST /emit, /__motia/* writes) under
    # `motia start` ([admin] token); without one they answer 401 there. `motia dev` leaves them
    # open on its loopback address.
    admin_token: str | None = None
    # Serve the Workbench and its read API ([workbench] enabled); None: on in dev, off in start.
    workbench: bool | None = None
    # Where traces and logs are kept ([observability] store): "sqlite" under motia_dir,
    # "memory", "redis" (shared by every instance on the server: any one reads them all) or
    # "off" (only the newest traces, in memory, as the harness had before). None: "redis" when
    # state or queue is, else "sqlite".
    observability: str | None = None
    # Retention of traces and logs ([observability]): the newest max_traces traces and max_logs
    # log records, none older than retention_hours (0: no age limit).
    max_traces: int = 10_000
    max_logs: int = 100_000
    retention_hours: float = 168.0
    # OpenTelemetry export over OTLP/HTTP ([otel] enabled, endpoint, service_name; needs
    # `pip install 'motia-core[otel]'`). None: on exactly when OTEL_EXPORTER_OTLP_ENDPOINT (or
    # ..._TRACES_ENDPOINT) is set or an endpoint is given here; false: off whatever the env says.
    # The standard OTEL_* variables win over these (observability/otel.py).
    otel: bool | None = None
    # The collector's base URL, e.g. http://localhost:4318 (traces go to <endpoint>/v1/traces).
    otel_endpoint: str | None = None
    # The service name when OTEL_SERVICE_NAME does not give one ("motia" by default).
    otel_service_name: str | None = None

    @property
    def streams_store(self) -> str:
        """Where stream items live: ``streams``, or ``state`` when not set."""
        return self.streams or self.state

    @property
    def observability_store(self) -> str:
        """Where traces and logs are kept: ``observability``, or what state and queue suggest."""
        if self.observability:
            return self.observability
        return "redis" if "redis" in (self.state, self.queue) else "sqlite"

    @property
    def data_dir(self) -> Path:
        return self.project_root / self.motia_dir

    @classmethod
    def load(cls, project_root: Path, environ: Mapping[str, str] = os.environ) -> Settings:
        root = project_root.resolve()
        values: dict[str, Any] = {}
        path = root / SETTINGS_FILE
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
            values.update(_flatten(data))
        for name in _FIELDS:
            env = environ.get(f"MOTIA_{name.upper()}")
            if env is not None:
                values[name] = env
        return cls(project_root=root).with_overrides(values, source=str(path))

    def with_overrides(self, values: Mapping[str, Any], source: str = "options") -> Settings:
        """A copy with ``values`` applied; None values are ignored (an unset CLI flag)."""
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name not in _FIELDS:
                known = ", ".join(sorted(_FIELDS))
                raise SettingsError(f"{source}: unknown setting {name!r}; known: {known}")
            changes[name] = _coerce(name, value, source)
        return replace(self, **changes)


_FIELDS = {f.name: f for f in fields(Settings) if f.name != "project_root"}
_SECTIONS = ("http", "runners", "events", "logs", "storage", "streams", "observability",
             "admin", "workbench", "otel")
# Names inside a section that mean a differently named setting: [admin] token is admin_token.
_SECTION_NAMES: dict[tuple[str, str], str] = {
    ("admin", "token"): "admin_token", ("workbench", "enabled"): "workbench",
    ("observability", "store"): "observability", ("otel", "enabled"): "otel",
    ("otel", "endpoint"): "otel_endpoint", ("otel", "service_name"): "otel_service_name",
    ("streams", "store"): "streams"}


def _flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    # Sections only group names for readability: [http] port = 3001 is the setting `port`.
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key == "runner":  # [runner.<language>] tables register runner plugins (spec.py)
            continue
        if key in _SECTIONS and isinstance(value, dict):
            flat.update({_SECTION_NAMES.get((key, str(name)), str(name)): item
                         for name, item in value.items()})
        elif key == "redis" and isinstance(value, dict):  # [redis] url = ... is `redis_url`
            flat.update({f"redis_{name}": item for name, item in value.items()})
        else:
            flat[key] = value
    return flat


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = str(_FIELDS[name].type)
    try:
        if name in ("runners", "cors_origins"):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(s.strip() for s in items if s.strip())
        if name == "workers":
            return _workers(value)
        if name in ("json_logs", "workbench", "otel") or kind == "bool":
            return _bool(value)
        if kind == "int":
            number = int(value)
            if name == "max_concurrent_invocations" and number < 1:
                raise ValueError("must be at least 1")
            return number
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: setting {name!r} = {value!r} is invalid: {exc}") from exc


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _workers(value: Any) -> dict[str, int]:
    """``{"python": 4}`` or ``"python=4,node=2"``."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        pairs = []
        for part in str(value).split(","):
            if part.strip():
                lang, sep, count = part.partition("=")
                if not sep:
                    raise ValueError(f"expected LANGUAGE=N, got {part.strip()!r}")
                pairs.append((lang.strip(), count))
    result = {str(lang): int(count) for lang, count in pairs}
    for lang, workers in result.items():
        if workers < 1:
            raise ValueError(f"{lang} needs at least 1 worker, got {workers}")
    return result
