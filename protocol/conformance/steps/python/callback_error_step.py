# The core answers this state.set with an error: it must reach the handler as one.
config = {"type": "event", "name": "ConformanceRefused", "subscribes": ["conformance.refused"],
          "emits": []}


async def handler(input, ctx):
    try:
        await ctx.state.set("conformance", "refused", 1)
    except Exception as exc:  # the runner's RpcError: code, message, data
        return {"caught": exc.code, "message": exc.message}
    return {"caught": None}
