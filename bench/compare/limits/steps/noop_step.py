"""The raw limit's Python step: does nothing, so what is measured is the trip to the runner."""

config = {"type": "event", "name": "CompareNoopPy", "subscribes": ["compare.noop"], "emits": []}


async def handler(input, ctx):
    return None
