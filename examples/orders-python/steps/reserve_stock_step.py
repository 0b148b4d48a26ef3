config = {
    "type": "event",
    "name": "ReserveStock",
    "subscribes": ["order.created"],
    "emits": ["order.reserved"],
    "input": {
        "type": "object",
        "properties": {"orderId": {"type": "string"}},
        "required": ["orderId"],
    },
    "flows": ["orders"],
    "infrastructure": {"queue": {"maxRetries": 2}},
}


async def handler(input, context):
    wrapped = await context.state.get("orders", input["orderId"])
    order = wrapped.get("data", wrapped)
    reserved = await context.state.get("inventory", order["item"])
    count = reserved if isinstance(reserved, int) else 0
    await context.state.set("inventory", order["item"], count + order["quantity"])
    await context.state.set("orders", order["id"], {**order, "status": "reserved"})
    await context.emit({"topic": "order.reserved", "data": {"orderId": order["id"]}})
