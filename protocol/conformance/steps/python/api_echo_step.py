# The api convention: handler(request, ctx) -> {status, body, headers}.
config = {
    "type": "api",
    "name": "ConformanceApi",
    "path": "/conformance/:id",
    "method": "POST",
    "emits": [],
    "flows": ["conformance"],
    "responseSchema": {200: {"type": "object"}},  # an integer key goes out as "200"
}


async def handler(req, ctx):
    return {
        "status": 201,
        "body": {
            "id": req["pathParams"]["id"],
            "body": req["body"],
            "query": req["queryParams"],
            "traceId": ctx.trace_id,
            "flows": ctx.flows,
        },
        "headers": {"x-conformance": "yes"},
    }
