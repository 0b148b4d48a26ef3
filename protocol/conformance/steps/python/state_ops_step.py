# Every state callback once, in order; the output shows what the core answered.
config = {"type": "event", "name": "ConformanceState", "subscribes": ["conformance.state"],
          "emits": []}


async def handler(input, ctx):
    group = input["group"]
    stored = await ctx.state.set(group, "k", "v1")
    got = await ctx.state.get(group, "k")
    items = await ctx.state.get_group(group)
    deleted = await ctx.state.delete(group, "k")
    await ctx.state.clear(group)
    return {"set": stored, "got": got, "group": items, "deleted": deleted}
