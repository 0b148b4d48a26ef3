"""GET through a Python api step: the same small work as the bare aiohttp handler beside it."""

config = {"type": "api", "name": "BenchHello", "path": "/hello/:name", "method": "GET",
          "emits": []}


async def handler(req, ctx):
    return {"status": 200, "body": {"hello": req["pathParams"]["name"]}}
