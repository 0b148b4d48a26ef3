config = {
    "type": "event",
    "name": "Record",
    "subscribes": ["greeting.shouted"],
    "emits": [],
    "flows": ["greetings"],
}


async def handler(input, context):
    shouted = await context.state.get("shouted", input["id"])  # a string: no {"data": ...}
    await context.state.set("recorded", input["id"], {"text": shouted, "traceId": context.trace_id})
    context.logger.info("recorded in Python", {"id": input["id"]})
