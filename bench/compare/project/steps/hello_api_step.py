"""GET through a Python api step. The same file runs on motia-core and on the original Motia."""

config = {"type": "api", "name": "CompareHelloPy", "path": "/py/hello/:name", "method": "GET",
          "emits": [], "flows": ["compare"]}


async def handler(req, ctx):
    return {"status": 200, "body": {"hello": req["pathParams"]["name"]}}
