# A handler without a config: loading it is an InvalidConfig error.
async def handler(input, ctx):
    return {"unreachable": True}
