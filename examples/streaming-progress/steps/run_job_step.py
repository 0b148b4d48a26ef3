"""The long job, in Python: each item done moves the progress item on the stream."""

import asyncio

config = {
    "type": "event",
    "name": "RunJob",
    "subscribes": ["job.started"],
    "emits": [],
    "input": {
        "type": "object",
        "properties": {"jobId": {"type": "string"}, "items": {"type": "integer"}},
        "required": ["jobId", "items"],
    },
    "flows": ["jobs"],
}

ITEM_SECONDS = 0.05  # stands in for real work per item


async def handler(input, context):
    job_id, items = input["jobId"], input["items"]
    for done in range(1, items + 1):
        await asyncio.sleep(ITEM_SECONDS)
        await context.streams.progress.set(
            "jobs", job_id, {"percent": round(100 * done / items), "stage": "working"})
    await context.streams.progress.set("jobs", job_id, {"percent": 100, "stage": "done"})
    await context.streams.progress.send({"groupId": "jobs", "id": job_id},
                                        {"type": "finished", "data": {"items": items}})
    context.logger.info("job finished", {"jobId": job_id, "items": items})
