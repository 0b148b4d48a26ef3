config = {"type": "event", "name": "ConformanceLogger", "subscribes": ["conformance.log"],
          "emits": []}


async def handler(input, ctx):
    ctx.logger.info("conformance info", {"orderId": 7})
    ctx.logger.warn("conformance warn", {"flag": True})
    ctx.logger.error("conformance error", {"code": "E1"})
    ctx.logger.debug("conformance debug")
    return {"logged": 4}
