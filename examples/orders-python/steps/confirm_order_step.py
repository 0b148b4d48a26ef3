config = {
    "type": "event",
    "name": "ConfirmOrder",
    "subscribes": ["order.reserved"],
    "emits": [],
    "flows": ["orders"],
}


async def handler(input, context):
    wrapped = await context.state.get("orders", input["orderId"])
    order = wrapped.get("data", wrapped)
    await context.state.set("orders", order["id"], {**order, "status": "confirmed"})
    context.logger.info("order confirmed", {"orderId": order["id"]})
