config = {
    "type": "api",
    "name": "CreateOrder",
    "description": "Accepts an order and starts its fulfilment",
    "path": "/orders",
    "method": "POST",
    "emits": ["order.created"],
    "flows": ["orders"],
    "bodySchema": {
        "type": "object",
        "properties": {
            "item": {"type": "string", "minLength": 1},
            "quantity": {"type": "integer", "minimum": 1},
        },
        "required": ["item", "quantity"],
        "additionalProperties": False,
    },
}


async def handler(req, context):
    body = req["body"]
    order_id = context.trace_id
    order = {"id": order_id, "item": body["item"], "quantity": body["quantity"],
             "status": "pending"}
    await context.state.set("orders", order_id, order)
    await context.emit({"topic": "order.created", "data": {"orderId": order_id}})
    context.logger.info("order accepted", {"orderId": order_id, "item": body["item"]})
    return {"status": 201, "body": order}
