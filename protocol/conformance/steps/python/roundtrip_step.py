config = {"type": "event", "name": "ConformanceRoundtrip", "subscribes": ["conformance.rt"],
          "emits": ["conformance.rt.done"]}


async def handler(input, ctx):
    i = input["i"]
    await ctx.state.set("rt", f"k{i}", i)
    got = await ctx.state.get("rt", f"k{i}")
    await ctx.emit({"topic": "conformance.rt.done", "data": {"i": i}})
    return {"i": i, "got": got}
