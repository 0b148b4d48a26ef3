# The W3C trace context of the step's span, as the handler sees it (tier 7).
config = {"type": "event", "name": "ConformanceTraceContext", "subscribes": ["conformance.trace"],
          "emits": [], "flows": ["conformance"]}


async def handler(input, ctx):
    return {"traceId": ctx.trace_id, "traceparent": ctx.traceparent,
            "tracestate": ctx.tracestate}
