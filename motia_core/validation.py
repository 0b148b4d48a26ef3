"""JSON Schema validation of api request bodies (``bodySchema``) and event data (``input``).

The original Motia documented automatic body validation but never did it; we do, and answer 400
with every failing field so a client can fix them all at once. Event steps use the same
validators for their ``input`` schema. Schemas are compiled once per distinct
schema (keyed by its canonical JSON, so a hot reload that keeps a schema keeps its validator) and
the draft is chosen by ``$schema``: zod 3 converters emit draft-07, zod 4 emits 2020-12, and a
schema that names neither is read as draft-07, the dialect of the original's converters.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # types-jsonschema is not a dependency
import msgspec
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]
from jsonschema.protocols import Validator  # type: ignore[import-untyped]

__all__ = ("MAX_REPORTED_ERRORS", "SCHEMA_CACHE_SIZE", "BodyValidator", "FieldError", "SchemaCache",
           "SchemaInvalid")

# Enough to fix a form in one go; bounded so a huge invalid array cannot make a huge response.
MAX_REPORTED_ERRORS = 100
# Compiled validators a SchemaCache keeps (the least recently used go first).
SCHEMA_CACHE_SIZE = 1024

_DRAFTS: dict[str, type[Validator]] = {
    "json-schema.org/draft-04/schema": jsonschema.Draft4Validator,
    "json-schema.org/draft-06/schema": jsonschema.Draft6Validator,
    "json-schema.org/draft-07/schema": jsonschema.Draft7Validator,
    "json-schema.org/draft/2019-09/schema": jsonschema.Draft201909Validator,
    "json-schema.org/draft/2020-12/schema": jsonschema.Draft202012Validator,
}
_DEFAULT_DRAFT: type[Validator] = jsonschema.Draft7Validator


class SchemaInvalid(ValueError):
    """A ``bodySchema`` that is not a JSON Schema of its draft (or names an unknown draft)."""

    def __init__(self, message: str, problem: str | None = None,
                 path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        # What is wrong and where, for callers that name the place in their own terms.
        self.problem = problem or message
        self.path = path


@dataclass(frozen=True)
class FieldError:
    """One failing field: a JSON Pointer into the body ('' is the body itself) and why."""

    path: str
    message: str
    keyword: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "keyword": self.keyword}


def _draft_for(schema: Any) -> type[Validator]:
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if uri is None:
        return _DEFAULT_DRAFT
    if not isinstance(uri, str):
        raise SchemaInvalid(f"'$schema' must be a string, got {uri!r}")
    key = re.sub(r"^https?://", "", uri).rstrip("#")
    draft = _DRAFTS.get(key)
    if draft is None:
        known = ", ".join(f"https://{k}" for k in _DRAFTS)
        raise SchemaInvalid(f"unknown '$schema' {uri!r}; use one of {known} or leave it out")
    return draft


def _pointer(parts: list[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _unexpected(error: ValidationError) -> list[str]:
    """The extra keys behind an ``additionalProperties: false`` error, one per field."""
    if not isinstance(error.instance, dict) or not isinstance(error.schema, dict):
        return []
    declared = error.schema.get("properties", {})
    patterns = list(error.schema.get("patternProperties", {}))
    return [
        key for key in error.instance
        if key not in declared and not any(re.search(p, key) for p in patterns)
    ]


def _field_errors(error: ValidationError) -> list[FieldError]:
    base = list(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance and error.message.startswith(repr(name)):
                return [FieldError(_pointer([*base, name]), "is required", keyword)]
    if keyword == "additionalProperties" and error.validator_value is False:
        extras = _unexpected(error)
        if extras:
            return [
                FieldError(_pointer([*base, key]), "is not an allowed property", keyword)
                for key in extras
            ]
    return [FieldError(_pointer(base), error.message, keyword)]


class BodyValidator:
    """One compiled schema: :meth:`errors` lists every failing field of a body."""

    def __init__(self, schema: dict[str, Any]) -> None:
        draft = _draft_for(schema)
        # The structure only: `check_schema` would also reject patterns in JavaScript's regex
        # dialect (zod emits `\p{L}` and friends), which are valid schemas all the same.
        exc = best_match(draft(draft.META_SCHEMA).iter_errors(schema))
        if exc is not None:
            where = _pointer(list(exc.absolute_path)) or "the schema root"
            raise SchemaInvalid(f"{exc.message} (at {where})", exc.message,
                                tuple(exc.absolute_path))
        self.draft = draft
        self._validator = draft(schema, format_checker=draft.FORMAT_CHECKER)

    def errors(self, body: Any) -> list[FieldError]:
        found: list[FieldError] = []
        for error in self._validator.iter_errors(body):
            found.extend(_field_errors(error))
            if len(found) >= MAX_REPORTED_ERRORS:
                return found[:MAX_REPORTED_ERRORS]
        return found


class SchemaCache:
    """Compiled validators keyed by canonical schema JSON; owned by a router, never global.

    The ``max_size`` most recently used are kept (hot reloads in a long ``motia dev`` session
    bring new schemas all the time); callers on a hot path keep the validator ``get`` returned
    rather than asking again, as asking encodes the schema to find its key.
    """

    def __init__(self, max_size: int = SCHEMA_CACHE_SIZE) -> None:
        if max_size < 1:
            raise ValueError(f"SchemaCache(max_size={max_size!r}): must be at least 1")
        self.max_size = max_size
        self._validators: OrderedDict[bytes, BodyValidator] = OrderedDict()

    def get(self, schema: dict[str, Any]) -> BodyValidator:
        try:
            key = msgspec.json.encode(schema, order="sorted")
        except (TypeError, msgspec.EncodeError) as exc:
            raise SchemaInvalid(f"the schema is not plain JSON ({exc})") from exc
        validator = self._validators.get(key)
        if validator is None:
            validator = self._validators[key] = BodyValidator(schema)
            while len(self._validators) > self.max_size:
                self._validators.popitem(last=False)
        else:
            self._validators.move_to_end(key)
        return validator

    def prune(self, keep: Iterable[BodyValidator]) -> None:
        """Forget validators no route uses any more (after a hot reload replaced the table)."""
        kept = {id(v) for v in keep}
        self._validators = OrderedDict((k, v) for k, v in self._validators.items()
                                       if id(v) in kept)

    def __len__(self) -> int:
        return len(self._validators)
