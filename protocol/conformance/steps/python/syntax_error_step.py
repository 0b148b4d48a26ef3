config = {"type": "event", "name": "ConformanceBroken", "subscribes": ["x"], "emits": []}

def handler(input, ctx)
    return 1
