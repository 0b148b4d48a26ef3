"""Reads the state back and checks it."""

from typing import Any

config = {
    "type": "event",
    "name": "CheckStateChange",
    "description": "Reads the state back and checks it",
    "subscribes": ["check-state-change"],
    # The last step of the flow: it emits nothing.
    "emits": [],
    "input": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "expected": {"type": "string"}},
        "required": ["key", "expected"],
    },
    "flows": ["default"],
}


async def handler(input: dict[str, Any], context: Any) -> None:
    # A string comes back as it was stored (Motia wraps only objects, as {"data": ...}).
    value = await context.state.get(context.trace_id, input["key"])

    if value == input["expected"]:
        context.logger.info("Step 03: the state holds the expected value",
                            {"key": input["key"], "value": value})
    else:
        context.logger.error("Step 03: the state does not hold the expected value",
                             {"key": input["key"], "value": value, "expected": input["expected"]})
