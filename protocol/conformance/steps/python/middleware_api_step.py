# Middleware runs in the runner, first element outermost; each may short-circuit.
async def outer(req, ctx, next_fn):
    response = await next_fn()
    response["headers"] = {**(response.get("headers") or {}), "x-outer": "1"}
    response["body"]["trail"].append("outer")
    return response


async def gate(req, ctx, next_fn):
    if req["headers"].get("x-block"):
        return {"status": 403, "body": {"trail": ["gate"]}}
    return await next_fn()


config = {"type": "api", "name": "ConformanceMiddleware", "path": "/conformance/mw",
          "method": "GET", "emits": [], "middleware": [outer, gate]}


async def handler(req, ctx):
    return {"status": 200, "body": {"trail": ["handler"]}}
