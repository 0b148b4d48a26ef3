"""Time: cron expressions (parsed and checked with errors that name the field) and the scheduler
that turns them into ticks. Knows nothing of steps: the runtime hands it jobs.
"""

from motia_core.cron.expressions import CronExpressionError, latest_fire_time, parse_cron

__all__ = ("CronExpressionError", "latest_fire_time", "parse_cron")
