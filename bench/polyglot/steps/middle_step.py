config = {"type": "event", "name": "BenchPolyMiddle", "subscribes": ["bench.poly.b"],
          "emits": ["bench.poly.c"]}


async def handler(input, ctx):
    await ctx.emit({"topic": "bench.poly.c", "data": input})
