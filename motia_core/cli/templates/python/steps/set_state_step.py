"""Stores the message in state."""

from typing import Any

config = {
    "type": "event",
    "name": "SetStateChange",
    "description": "Stores the message in state",
    # Runs for every 'test-state' event, after the api step has answered.
    "subscribes": ["test-state"],
    "emits": ["check-state-change"],
    "input": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
    "flows": ["default"],
}


async def handler(input: dict[str, Any], context: Any) -> None:
    context.logger.info("Step 02: storing the message in state", {"input": input})

    # State is grouped by a free-form id; the trace id gives every run of the flow its own.
    await context.state.set(context.trace_id, "message", input["message"])

    await context.emit({
        "topic": "check-state-change",
        "data": {"key": "message", "expected": input["message"]},
    })
