config = {
    "type": "api",
    "name": "GetOrder",
    "path": "/orders/:id",
    "method": "GET",
    "emits": [],
    "flows": ["orders"],
}


async def handler(req, context):
    order = await context.state.get("orders", req["pathParams"]["id"])
    # Motia's Python state.get wraps a missing value as {"data": None}.
    if order.get("data", order) is None:
        return {"status": 404, "body": {"error": "no such order"}}
    return {"status": 200, "body": order.get("data", order)}
