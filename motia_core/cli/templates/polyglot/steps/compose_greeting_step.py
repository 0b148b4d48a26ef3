"""Composes the greeting in Python: the place where a team would call a model or a library."""

from typing import Any

config = {
    "type": "event",
    "name": "ComposeGreeting",
    "description": "Writes the greeting text",
    "subscribes": ["greeting.requested"],
    "emits": ["greeting.composed"],
    "input": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        "required": ["id", "name"],
    },
    "flows": ["greetings"],
}


async def handler(input: dict[str, Any], context: Any) -> None:
    text = f"Hello, {input['name']}!"
    # The same state the TypeScript steps read: one store, JSON values, whatever the language.
    await context.state.set("greetings", input["id"],
                            {"id": input["id"], "name": input["name"], "text": text,
                             "status": "composed"})
    context.logger.info("greeting composed", {"id": input["id"]})
    await context.emit({"topic": "greeting.composed", "data": {"id": input["id"], "text": text}})
