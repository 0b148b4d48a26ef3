"""Cron expressions as Motia writes them (node-cron v3 syntax), turned into APScheduler triggers.

A Motia cron step says ``"cron": "*/5 * * * *"``: five fields (minute, hour, day of month, month,
day of week) or six with a leading seconds field, with ``*``, lists, ranges, steps and English
names (``jan``/``january``, ``mon``/``monday``, any case). We parse every field into the exact set
of values it allows and hand APScheduler explicit lists, rather than passing the text through,
because the two disagree on the day of week: in cron 0 and 7 are Sunday and 1 is Monday, while
APScheduler 3 counts 0 as Monday. Day of month and day of week must both match (node-cron's rule,
and APScheduler's), not either one as in Vixie cron.

Steps (``a-b/n``, ``*/n``, ``a/n``) count from the start of their range, as crontab(5) documents:
``*/2`` in the day-of-month field is 1, 3, 5, ... (node-cron 3 would pick the days divisible by 2;
we follow the documented meaning users read about everywhere, which agrees with node-cron for
every field that starts at 0: seconds, minutes, hours and days of the week).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

__all__ = ("CronExpressionError", "parse_cron")

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


class CronExpressionError(ValueError):
    """A cron expression that cannot be scheduled; ``str()`` names the field and what it allows."""

    def __init__(self, expression: str, field_name: str | None, problem: str,
                 allowed: str) -> None:
        self.expression = expression
        self.field_name = field_name
        self.problem = problem
        self.allowed = allowed
        where = f"the {field_name} field" if field_name else "it"
        super().__init__(
            f"invalid cron expression {expression!r}: {where} {problem}; {allowed}"
        )


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    # Lower-case names (full and 3-letter) -> number.
    names: Mapping[str, int] = field(default_factory=dict)
    extra: str = ""

    @property
    def allowed(self) -> str:
        return f"the {self.name} field allows {self.low}-{self.high}{self.extra}, with * , - and /"


def _names(words: tuple[str, ...], first: int) -> dict[str, int]:
    table: dict[str, int] = {}
    for i, word in enumerate(words, start=first):
        table[word] = i
        table[word[:3]] = i
    return table


_SECOND = _Field("second", 0, 59)
_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _names(_MONTHS, 1), " or jan-dec"),
    _Field("day-of-week", 0, 7, _names(_DAYS, 0), " (0 and 7 are Sunday) or sun-sat"),
)
_SHAPE = ("expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading "
          "second field, separated by spaces, e.g. '*/5 * * * *' or '0 30 9 * * mon-fri'")


def parse_cron(expression: str, timezone: tzinfo | None = None) -> CronTrigger:
    """The APScheduler trigger for a node-cron expression, in ``timezone`` (default: local time,
    where the original evaluated its cron jobs).

    Raises ``CronExpressionError`` naming the expression, the bad field and what it allows.
    """
    if not isinstance(expression, str):
        raise CronExpressionError(repr(expression), None, "is not a string", _SHAPE)
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise CronExpressionError(expression, None, f"has {len(parts)} fields", _SHAPE)
    seconds = parts.pop(0) if len(parts) == 6 else "0"
    values = [_parse_field(expression, _SECOND, seconds)]
    values += [_parse_field(expression, spec, text)
               for spec, text in zip(_FIELDS, parts, strict=True)]
    second, minute, hour, day, month, weekday = values
    # cron: 0 and 7 = Sunday, 1 = Monday; APScheduler 3: 0 = Monday ... 6 = Sunday.
    weekday_aps = {(d - 1) % 7 for d in weekday}
    return CronTrigger(
        second=_render(second, _SECOND),
        minute=_render(minute, _FIELDS[0]),
        hour=_render(hour, _FIELDS[1]),
        day=_render(day, _FIELDS[2]),
        month=_render(month, _FIELDS[3]),
        day_of_week=_render(weekday_aps, _Field("day-of-week", 0, 6)),
        timezone=timezone,
    )


# How far back latest_fire_time looks: a tick handled this late is still named by its own time.
LATEST_WINDOW = timedelta(seconds=61)


def latest_fire_time(trigger: CronTrigger, now: datetime | None = None) -> datetime | None:
    """The last time at or before ``now`` (default: the current time) that ``trigger`` fires, or
    None if it did not fire in the last minute: the scheduled time of the tick under way, which
    names it the same on every instance (a tick runs a few milliseconds after its time)."""
    now = now or datetime.now(trigger.timezone)
    latest = None
    fire = trigger.get_next_fire_time(None, now - LATEST_WINDOW)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def _parse_field(expression: str, spec: _Field, text: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        values |= _parse_part(expression, spec, part)
    if spec.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return values


def _parse_part(expression: str, spec: _Field, part: str) -> set[int]:
    def fail(problem: str) -> CronExpressionError:
        return CronExpressionError(expression, spec.name, problem, spec.allowed)

    base, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise fail(f"has step {step_text!r} in {part!r}; a step is a whole number above 0")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        start, _, end = base.partition("-")
        low, high = _value(spec, start, part, fail), _value(spec, end, part, fail)
        if low > high:
            hint = " (write 7 for a Sunday that ends a range)" if spec.name == "day-of-week" else ""
            raise fail(f"has the range {part!r} that runs backwards{hint}")
    else:
        low = _value(spec, base, part, fail)
        # 'a/n' means from a to the end of the field, every n.
        high = spec.high if slash else low
    if spec.name == "day-of-week" and base == "*":
        high = 6  # '*' covers each day once; 7 would only repeat Sunday
    return set(range(low, high + 1, step))


def _value(spec: _Field, token: str, part: str, fail: Callable[[str], CronExpressionError]) -> int:
    where = "" if token == part else f" in {part!r}"
    if token.isdigit():
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise fail(f"has {number}{where}, out of range")
        return number
    named = spec.names.get(token.lower())
    if named is None:
        raise fail(f"has {token!r}{where}, which is neither a number nor a known name"
                   if token else f"has an empty value in {part!r}")
    return named


def _render(values: set[int], spec: _Field) -> str:
    """APScheduler field text: '*' for everything, else compact ranges like '1-5,7'."""
    if values == set(range(spec.low, spec.high + 1)):
        return "*"
    ordered = sorted(values)
    runs: list[str] = []
    start = prev = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    return ",".join(runs)
