"""Body validation after an api step's middleware (the runner's ``body.validate`` callback).

A step without middleware has its body checked by the HTTP layer before the invocation, as
always. A step with middleware (which runs in the runner) is invoked with ``validateBody``: the
runner runs the middleware chain and, just before the handler, sends the body as the middleware
left it to ``body.validate``. So an auth middleware answers 401 before anyone learns the schema
from a 400, as FastAPI resolves its security dependencies before the body.
"""

from __future__ import annotations

from typing import Any

from motia_core.project.steps import ApiConfig, Step
from motia_core.validation import SchemaCache

__all__ = ("BODY_INVALID", "BodyChecks", "NO_BODY_METHODS", "checked_after_middleware")

BODY_INVALID = "Request body validation failed"
# Bodies of these methods are never validated (the HTTP layer's rule too).
NO_BODY_METHODS = frozenset({"GET", "HEAD"})


def checked_after_middleware(step: Step, validate_bodies: bool) -> bool:
    """Whether ``step``'s body is checked by ``body.validate`` rather than before the call."""
    config = step.config
    return (validate_bodies and step.has_middleware and not step.validates_body
            and isinstance(config, ApiConfig) and config.body_schema is not None
            and config.method not in NO_BODY_METHODS)


class BodyChecks:
    """Answers ``body.validate``: null for a body that fits, else the 400 to send instead."""

    def __init__(self) -> None:
        self._schemas = SchemaCache()

    def verdict(self, step: Step, body: Any) -> dict[str, Any] | None:
        schema = getattr(step.config, "body_schema", None)
        if schema is None:
            return None
        # The route table compiled this schema already: an invalid one never gets this far.
        errors = self._schemas.get(schema).errors(body)
        if not errors:
            return None
        return {"status": 400, "body": {"error": BODY_INVALID,
                                        "errors": [error.to_json() for error in errors]}}
