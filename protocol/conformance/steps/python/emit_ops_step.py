config = {"type": "event", "name": "ConformanceEmit", "subscribes": ["conformance.emit"],
          "emits": ["conformance.echoed", "conformance.grouped"]}


async def handler(input, ctx):
    await ctx.emit({"topic": "conformance.echoed", "data": {"n": input["n"]}})
    await ctx.emit({"topic": "conformance.grouped", "data": {"n": input["n"]},
                    "messageGroupId": "g1"})
    return {"emitted": 2}
