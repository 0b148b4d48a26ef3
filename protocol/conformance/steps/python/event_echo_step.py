# The event convention: handler(input, ctx); the return value is the invocation's output.
config = {
    "type": "event",
    "name": "ConformanceEvent",
    "subscribes": ["conformance.echo"],
    "emits": ["conformance.echoed"],
    "input": {"type": "object"},
    "flows": ["conformance"],
}


async def handler(input, ctx):
    return {"input": input, "traceId": ctx.trace_id, "flows": ctx.flows}
