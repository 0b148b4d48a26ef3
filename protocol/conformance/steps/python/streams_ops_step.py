# Every stream callback once, on the stream named "conformance".
config = {"type": "event", "name": "ConformanceStreams", "subscribes": ["conformance.streams"],
          "emits": []}


async def handler(input, ctx):
    stream = ctx.streams["conformance"]
    group = input["group"]
    stored = await stream.set(group, "a", {"n": 1})
    got = await stream.get(group, "a")
    items = await stream.get_group(group)
    removed = await stream.delete(group, "a")
    await stream.send({"groupId": group, "id": "a"}, {"type": "ping", "data": {"x": 1}})
    return {"set": stored, "got": got, "group": items, "deleted": removed}
