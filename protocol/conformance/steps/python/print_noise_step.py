# User output at import time and in the handler must never reach the protocol channel.
import os

print("conformance: printed at import time")

config = {"type": "event", "name": "ConformancePrint", "subscribes": ["conformance.print"],
          "emits": []}


async def handler(input, ctx):
    print("conformance: printed by the handler")
    os.write(1, b"conformance: written to fd 1\n")
    return {"printed": True}
