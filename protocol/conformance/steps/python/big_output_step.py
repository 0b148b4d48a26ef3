config = {"type": "event", "name": "ConformanceBig", "subscribes": ["conformance.big"],
          "emits": []}


async def handler(input, ctx):
    return {"blob": "x" * input["size"]}
