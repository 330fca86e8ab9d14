"""Cron expressions: validation, time zones and daylight saving, and schedules in words.

Helpers of ``timetables``; pure.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_STEP_RE = re.compile(r"\*/(\d+)")
#: A fixed reference point used to check that a cron expression ever fires.
_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


def zone(name: str) -> tzinfo:
    """The time zone called ``name``; ValueError if there is none."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"invalid timezone {name!r}: expected an IANA name such as 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"invalid timezone {name!r}: expected an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


def problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable 5-field cron expression, or None if it is."""
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    if not croniter.is_valid(expression):
        return "not a valid cron expression"
    try:
        croniter(expression, _PROBE).get_next(datetime)
    except CroniterError:
        return "the expression never fires"
    return None


@functools.lru_cache(maxsize=256)
def covers_every_hour(expression: str) -> bool:
    """True if the expression's hour field is every hour (then DST never repeats its fires)."""
    return bool(croniter(expression).expanded[1] == ["*"])


def is_repeated_wall_time(fire: datetime, zone: tzinfo) -> bool:
    """True if ``fire`` is the second occurrence of its local time (clocks went back)."""
    local = fire.astimezone(zone)
    first = local.replace(tzinfo=None).replace(tzinfo=zone, fold=0)
    return first.astimezone(UTC) < local.astimezone(UTC)


def describe_cron(fields: list[str]) -> tuple[str, bool] | None:
    """Common cron shapes in words, and whether the words depend on the time zone; else None."""
    if len(fields) != 5:
        return None
    minute, hour, dom, month, dow = fields
    if dom != "*" or month != "*":
        if hour.isdigit() and minute.isdigit() and dow == "*" and dom.isdigit():
            at = f"{int(hour):02d}:{int(minute):02d}"
            if month == "*":
                return f"On day {int(dom)} of every month at {at}", True
            if month.isdigit() and 1 <= int(month) <= 12:
                return f"Every year on {_MONTHS[int(month) - 1]} {int(dom)} at {at}", True
        return None
    if hour == "*":
        if dow != "*":
            return None
        if minute == "*":
            return "Every minute", False
        step = _STEP_RE.fullmatch(minute)
        if step is not None and 60 % int(step.group(1)) == 0:
            n = int(step.group(1))
            return ("Every minute" if n == 1 else f"Every {n} minutes"), False
        if minute.isdigit():
            return f"Every hour at minute {int(minute)}", False
        return None
    if not minute.isdigit():
        return None
    step = _STEP_RE.fullmatch(hour)
    if step is not None and dow == "*" and 24 % int(step.group(1)) == 0:
        n = int(step.group(1))
        every = "Every hour" if n == 1 else f"Every {n} hours"
        return f"{every} at minute {int(minute)}", True
    if not hour.isdigit():
        return None
    at = f"{int(hour):02d}:{int(minute):02d}"
    if dow == "*":
        return f"Every day at {at}", True
    if dow.isdigit() and int(dow) <= 7:
        return f"Every {_WEEKDAYS[int(dow) % 7]} at {at}", True
    if dow in ("1-5", "MON-FRI", "mon-fri"):
        return f"Every weekday (Monday to Friday) at {at}", True
    return None


def describe_delta(delta: timedelta) -> str:
    """``Every 30 minutes``, ``Every hour``, ``Every 1 day, 2 hours``, ``Every 1.5 seconds``."""
    seconds = delta.seconds
    units = [
        (delta.days, "day"),
        (seconds // 3600, "hour"),
        (seconds % 3600 // 60, "minute"),
    ]
    parts = [f"{count} {unit}" + ("s" if count != 1 else "") for count, unit in units if count]
    if delta.microseconds:
        parts.append(f"{seconds % 60 + delta.microseconds / 1_000_000:g} seconds")
    elif seconds % 60:
        count = seconds % 60
        parts.append(f"{count} second" + ("s" if count != 1 else ""))
    if len(parts) == 1 and parts[0].startswith("1 "):
        return f"Every {parts[0][2:]}"
    return "Every " + ", ".join(parts)
