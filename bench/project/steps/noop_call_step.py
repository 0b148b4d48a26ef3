"""The benchmark's step: does nothing, so what is measured is the trip to the runner and back."""

config = {"type": "event", "name": "BenchNoop", "subscribes": ["bench.noop"], "emits": []}


async def handler(input, ctx):
    return None
