# Tells the core it started (a state.set), sleeps input.ms, tells it it finished.
import asyncio

config = {"type": "event", "name": "ConformanceSlow", "subscribes": ["conformance.slow"],
          "emits": []}


async def handler(input, ctx):
    await ctx.state.set("slow", input["tag"], "started")
    await asyncio.sleep(input["ms"] / 1000)
    await ctx.state.set("slow", input["tag"], "finished")
    return {"slept": input["ms"], "tag": input["tag"]}
