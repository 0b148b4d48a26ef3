config = {"type": "event", "name": "ConformanceFails", "subscribes": ["conformance.fail"],
          "emits": []}


class ConformanceError(Exception):
    pass


async def handler(input, ctx):
    raise ConformanceError(f"bad value {input['v']}")
