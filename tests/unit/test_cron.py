from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from motia_core.cron import CronExpressionError, parse_cron

UTC = timezone.utc
# A Wednesday, noon.
START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def fire_times(expression: str, count: int, start: datetime = START) -> list[datetime]:
    trigger = parse_cron(expression, UTC)
    times: list[datetime] = []
    previous = None
    now = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        times.append(fire)
        previous, now = fire, fire + timedelta(microseconds=1)
    return times


@pytest.mark.parametrize("expression", ["0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "0 0 * * SUN",
                                        "0 0 * * Sunday"])
def test_day_of_week_zero_seven_and_sun_are_sunday(expression: str) -> None:
    times = fire_times(expression, 3)
    assert [t.strftime("%a") for t in times] == ["Sun", "Sun", "Sun"]
    assert times[0] == datetime(2025, 1, 5, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["0 9 * * 1-5", "0 9 * * mon-fri", "0 9 * * 1,2,3,4,5"])
def test_weekdays_are_monday_to_friday(expression: str) -> None:
    times = fire_times(expression, 10)
    assert {t.strftime("%a") for t in times} == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert all(t.hour == 9 and t.minute == 0 and t.second == 0 for t in times)
    assert times[0] == datetime(2025, 1, 2, 9, 0, tzinfo=UTC)  # Thursday: today's 9:00 is past


@pytest.mark.parametrize(("expression", "days"), [
    ("0 0 * * 5-7", {"Fri", "Sat", "Sun"}),
    ("0 0 * * 6,0", {"Sat", "Sun"}),
    ("0 0 * * */2", {"Sun", "Tue", "Thu", "Sat"}),
    ("0 0 * * 1", {"Mon"}),
    ("0 0 * * *", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}),
])
def test_day_of_week_ranges_lists_and_steps(expression: str, days: set[str]) -> None:
    assert {t.strftime("%a") for t in fire_times(expression, 14)} == days


def test_six_fields_have_a_leading_seconds_field() -> None:
    times = fire_times("*/15 * * * * *", 5)
    assert [t.second for t in times] == [0, 15, 30, 45, 0]
    assert times[1] - times[0] == timedelta(seconds=15)
    assert [t.second for t in fire_times("30 */5 * * * *", 3)] == [30, 30, 30]
    assert [t.minute for t in fire_times("30 */5 * * * *", 3)] == [0, 5, 10]


def test_five_fields_fire_on_second_zero() -> None:
    times = fire_times("* * * * *", 3)
    assert [t.second for t in times] == [0, 0, 0]
    assert times[1] - times[0] == timedelta(minutes=1)


def test_month_names_and_lists() -> None:
    times = fire_times("0 0 1 jan,JUL *", 3)
    assert times == [datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
                     datetime(2026, 7, 1, tzinfo=UTC)]
    assert fire_times("0 0 1 march-april *", 1) == [datetime(2025, 3, 1, tzinfo=UTC)]


def test_steps_count_from_the_start_of_their_range() -> None:
    assert [t.minute for t in fire_times("5-20/10 * * * *", 3)] == [5, 15, 5]
    assert [t.day for t in fire_times("0 0 */10 * *", 4)] == [11, 21, 31, 1]
    assert [t.minute for t in fire_times("50/5 * * * *", 3)] == [50, 55, 50]


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    # node-cron (and APScheduler) require both: the first Monday of each month.
    times = fire_times("0 0 1-7 * 1", 3)
    assert times == [datetime(2025, 1, 6, tzinfo=UTC), datetime(2025, 2, 3, tzinfo=UTC),
                     datetime(2025, 3, 3, tzinfo=UTC)]


def test_timezone_is_honoured_and_local_time_is_the_default() -> None:
    paris = parse_cron("0 9 * * *", ZoneInfo("Europe/Paris"))
    fire = paris.get_next_fire_time(None, START)
    assert fire.astimezone(UTC) == datetime(2025, 1, 2, 8, 0, tzinfo=UTC)
    assert parse_cron("* * * * *").timezone is not None


@pytest.mark.parametrize(("expression", "field", "fragment"), [
    ("", None, "has 0 fields"),
    ("* * * *", None, "has 4 fields"),
    ("* * * * * * *", None, "has 7 fields"),
    ("60 * * * * *", "second", "has 60, out of range"),
    ("60 * * * *", "minute", "has 60, out of range"),
    ("* 24 * * *", "hour", "has 24, out of range"),
    ("* * 0 * *", "day-of-month", "has 0, out of range"),
    ("* * 32 * *", "day-of-month", "has 32, out of range"),
    ("* * * 13 *", "month", "has 13, out of range"),
    ("* * * foo *", "month", "'foo', which is neither a number nor a known name"),
    ("* * * * 8", "day-of-week", "has 8, out of range"),
    ("* * * * mon-jan", "day-of-week", "'jan'"),
    ("*/0 * * * *", "minute", "step '0'"),
    ("*/x * * * *", "minute", "step 'x'"),
    ("5-1 * * * *", "minute", "runs backwards"),
    ("1,,2 * * * *", "minute", "empty value"),
    ("L * * * *", "minute", "'L'"),
    ("? * * * *", "minute", "'?'"),
])
def test_invalid_expressions_name_the_field_and_what_is_allowed(
    expression: str, field: str | None, fragment: str
) -> None:
    with pytest.raises(CronExpressionError) as info:
        parse_cron(expression, UTC)
    error = info.value
    assert error.expression == expression
    assert error.field_name == field
    text = str(error)
    assert repr(expression) in text
    assert fragment in text
    if field is None:
        assert "expected 5 fields" in text
    else:
        assert f"the {field} field allows" in text


def test_a_backwards_weekday_range_suggests_seven_for_sunday() -> None:
    with pytest.raises(CronExpressionError) as info:
        parse_cron("0 0 * * fri-sun", UTC)
    assert "write 7 for a Sunday" in str(info.value)
    assert "0 and 7 are Sunday" in info.value.allowed
    assert {t.strftime("%a") for t in fire_times("0 0 * * fri-7", 6)} == {"Fri", "Sat", "Sun"}


def test_allowed_text_lists_names_for_month_and_weekday() -> None:
    with pytest.raises(CronExpressionError) as info:
        parse_cron("* * * 0 *", UTC)
    assert info.value.allowed.startswith("the month field allows 1-12 or jan-dec")


def test_latest_fire_time_names_the_tick_under_way() -> None:
    from motia_core.cron import latest_fire_time

    every_second = parse_cron("* * * * * *", UTC)
    assert latest_fire_time(every_second, START + timedelta(milliseconds=30)) == START
    assert latest_fire_time(every_second, START) == START
    every_five = parse_cron("*/5 * * * *", UTC)
    assert latest_fire_time(every_five, START + timedelta(milliseconds=500)) == START
    assert latest_fire_time(every_five, START + timedelta(seconds=62)) is None  # a minute back
    assert latest_fire_time(parse_cron("0 0 * * *", UTC), START) is None  # not in the last minute
