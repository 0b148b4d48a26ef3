config = {"type": "event", "name": "ConformanceNothing", "subscribes": ["conformance.nothing"],
          "emits": []}


async def handler(input, ctx):
    return None
