config = {
    "type": "cron",
    "name": "DailyReport",
    "description": "Counts orders by status every morning",
    "cron": "0 9 * * *",
    "emits": [],
    "flows": ["orders"],
}


async def handler(context):
    orders = await context.state.get_group("orders")
    counts = {}
    for order in orders:
        counts[order["status"]] = counts.get(order["status"], 0) + 1
    await context.state.set("reports", "latest", {"orders": len(orders), "byStatus": counts})
    context.logger.info("daily report written", {"orders": len(orders)})
