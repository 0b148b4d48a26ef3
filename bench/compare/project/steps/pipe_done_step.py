"""The pipeline's end: a Python event step that appends "<id> <unix time>" to the sink.

The sink is a named pipe the benchmark reads, so it learns of each completion as it happens
and the latency is measured from the POST to this write, in whichever framework ran it.
"""

import time

config = {"type": "event", "name": "ComparePipeDone", "subscribes": ["compare.pipe.recorded"],
          "emits": [], "flows": ["compare"]}


async def handler(input, ctx):
    with open(input["sink"], "a") as sink:
        sink.write(f"{input['id']} {time.time():.6f}\n")
