# The cron convention: handler(ctx), no input.
config = {"type": "cron", "name": "ConformanceCron", "cron": "*/5 * * * *", "emits": [],
          "flows": ["conformance"]}


async def handler(ctx):
    return {"ticked": True, "traceId": ctx.trace_id}
