"""Starts the default flow over HTTP."""

from typing import Any

config = {
    "type": "api",
    "name": "ApiTrigger",
    "description": "Starts the default flow over HTTP",
    "method": "POST",
    "path": "/default",
    # The topics this step may emit: the next step subscribes to it.
    "emits": ["test-state"],
    # Checked before the handler runs: a request without a string `message` gets a 400.
    "bodySchema": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
    "responseSchema": {
        200: {
            "type": "object",
            "properties": {"message": {"type": "string"}, "traceId": {"type": "string"}},
            "required": ["message", "traceId"],
        },
    },
    # Draws the edge from the noop step in the flow.
    "virtualSubscribes": ["/default"],
    "flows": ["default"],
}


async def handler(req: dict[str, Any], context: Any) -> dict[str, Any]:
    context.logger.info("Step 01: the api step received a request", {"body": req["body"]})

    # Handed to every step subscribed to 'test-state'; the response does not wait for them.
    await context.emit({"topic": "test-state", "data": {"message": req["body"]["message"]}})

    return {"status": 200, "body": {"message": "test-state emitted", "traceId": context.trace_id}}
