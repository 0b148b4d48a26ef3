config = {"type": "event", "name": "BenchChainFirst", "subscribes": ["bench.chain.a"],
          "emits": ["bench.chain.b"]}


async def handler(input, ctx):
    await ctx.emit({"topic": "bench.chain.b", "data": input})
