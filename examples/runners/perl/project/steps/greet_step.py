config = {
    "type": "api",
    "name": "Greet",
    "description": "Takes a name; a Perl step shouts the greeting, a Python step records it",
    "path": "/greetings",
    "method": "POST",
    "emits": ["greeting.requested"],
    "flows": ["greetings"],
    "bodySchema": {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 1}},
        "required": ["name"],
    },
}


async def handler(req, context):
    greeting_id = context.trace_id
    await context.state.set("greetings", greeting_id, {"name": req["body"]["name"]})
    await context.emit({"topic": "greeting.requested", "data": {"id": greeting_id}})
    return {"status": 202, "body": {"id": greeting_id}}
