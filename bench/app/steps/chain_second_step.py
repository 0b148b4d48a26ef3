config = {"type": "event", "name": "BenchChainSecond", "subscribes": ["bench.chain.b"],
          "emits": []}


async def handler(input, ctx):
    return None
