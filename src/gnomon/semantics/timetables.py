"""Schedules as timetables: which data intervals a DAG runs for, and when each run may start.

Airflow's data-interval semantics. A scheduled run covers ``[start, end)``; its logical date is
the interval start and it may only be created once the interval has ended (``run_after`` is the
interval end). Cron schedules are evaluated in the DAG's time zone, so ``0 0 * * *`` in
``Europe/Paris`` fires at local midnight whatever the UTC offset of the day; every datetime this
module returns is timezone-aware UTC.

Schedules are serialized to plain JSON with :meth:`Timetable.to_json` and rebuilt with
:func:`from_json`, so the scheduler never has to import user code to know when a DAG runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from croniter import croniter

from gnomon.semantics import cron

#: Cron presets and the expressions they stand for.
PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}

_ACCEPTED = (
    "expected None, a cron expression, one of @once " + " ".join(PRESETS) + ", or a timedelta"
)
_ONE_MICROSECOND = timedelta(microseconds=1)


def utc(dt: datetime) -> datetime:
    """``dt`` as an aware UTC datetime: a naive one is taken to be UTC, an aware one converted."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DataInterval:
    """The span of data a run covers, ``[start, end)``, as aware UTC datetimes."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DagRunInfo:
    """What the scheduler needs to create a run: its logical date, interval and earliest start."""

    logical_date: datetime
    data_interval: DataInterval
    run_after: datetime

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run for ``[start, end)``: logical date ``start``, created once ``end`` has passed."""
        return cls(logical_date=start, data_interval=DataInterval(start, end), run_after=end)

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        """A run for the empty interval ``[at, at]``, due at ``at``."""
        return cls(logical_date=at, data_interval=DataInterval(at, at), run_after=at)


@dataclass(frozen=True, slots=True)
class TimeRestriction:
    """Bounds on automatic scheduling: the DAG's start date, end date and catchup flag."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


class Timetable(ABC):
    """When a DAG runs. Build one with :func:`parse_schedule` or :func:`from_json`."""

    #: ``"none"``, ``"once"``, ``"cron"`` or ``"delta"``.
    kind: ClassVar[str]
    #: True for schedules that repeat (cron and timedelta).
    periodic: ClassVar[bool]

    @property
    @abstractmethod
    def summary(self) -> str:
        """Short text: the cron expression or preset, ``every 1:00:00``, ``@once`` or ``None``."""

    @property
    @abstractmethod
    def description(self) -> str:
        """The schedule in words, for the UI."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """Plain JSON that :func:`from_json` turns back into an equal timetable."""

    @abstractmethod
    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next run to schedule after ``last_automated_data_interval``, or None if none.

        ``now`` (default: the current time) decides which intervals are complete when catchup
        is off.
        """

    @abstractmethod
    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The data interval of a run triggered by hand at ``run_after``."""


@dataclass(frozen=True, slots=True)
class NullTimetable(Timetable):
    """``schedule=None``: the DAG only runs when triggered."""

    kind: ClassVar[str] = "none"
    periodic: ClassVar[bool] = False

    @property
    def summary(self) -> str:
        """``None``."""
        return "None"

    @property
    def description(self) -> str:
        """``Never (manual only)``."""
        return "Never (manual only)"

    def to_json(self) -> dict[str, Any]:
        """``{"kind": "none"}``."""
        return {"kind": self.kind}

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """Always None: nothing is ever scheduled."""
        return None

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The empty interval ``[run_after, run_after]``."""
        at = utc(run_after)
        return DataInterval(at, at)


@dataclass(frozen=True, slots=True)
class OnceTimetable(Timetable):
    """``schedule="@once"``: a single run at the start date."""

    kind: ClassVar[str] = "once"
    periodic: ClassVar[bool] = False

    @property
    def summary(self) -> str:
        """``@once``."""
        return "@once"

    @property
    def description(self) -> str:
        """``Once``."""
        return "Once"

    def to_json(self) -> dict[str, Any]:
        """``{"kind": "once"}``."""
        return {"kind": self.kind}

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """One run at the start date, ``[earliest, earliest]``, if none has run yet.

        None once a run exists, without a start date, or if the start date is after the end
        date. Catchup makes no difference.
        """
        if last_automated_data_interval is not None or restriction.earliest is None:
            return None
        at = utc(restriction.earliest)
        if restriction.latest is not None and at > utc(restriction.latest):
            return None
        return DagRunInfo.exact(at)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The empty interval ``[run_after, run_after]``."""
        at = utc(run_after)
        return DataInterval(at, at)


@dataclass(frozen=True, slots=True)
class CronTimetable(Timetable):
    """A cron schedule evaluated in an IANA time zone; intervals run between consecutive fires.

    ``preset`` records the ``@daily``-style text the schedule was written as, if any.

    Daylight saving time: a schedule that fires at particular hours (``0 2 * * *``) follows the
    wall clock and fires once on the day clocks go back, at the first of the two repeated
    local times (like cron daemons); a local time skipped when clocks go forward fires at the
    end of the gap. A schedule covering every hour (``*/15 * * * *``) fires at every real
    occurrence of its minutes, so its intervals stay evenly spaced.
    """

    expression: str
    timezone: str = "UTC"
    preset: str | None = None

    kind: ClassVar[str] = "cron"
    periodic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        cron.zone(self.timezone)
        problem = cron.problem(self.expression)
        if problem is not None:
            raise ValueError(f"invalid cron expression {self.expression!r}: {problem}")
        if self.preset is not None and PRESETS.get(self.preset) != self.expression:
            raise ValueError(
                f"invalid preset {self.preset!r} for cron expression {self.expression!r}: "
                f"expected one of {' '.join(PRESETS)} matching the expression"
            )

    @property
    def summary(self) -> str:
        """The preset if the schedule was written as one, else the cron expression."""
        return self.preset or self.expression

    @property
    def description(self) -> str:
        """Common shapes in words (``Every day at 00:00``); others as ``cron: <expr> (<tz>)``.

        Descriptions naming local hours end with the time zone unless it is UTC.
        """
        described = cron.describe_cron(self.expression.split())
        if described is None:
            return f"cron: {self.expression} ({self.timezone})"
        text, names_local_hours = described
        if names_local_hours and self.timezone != "UTC":
            return f"{text} ({self.timezone})"
        return text

    def to_json(self) -> dict[str, Any]:
        """``{"kind": "cron", "expression": ..., "timezone": ..., "preset": ... or None}``."""
        return {
            "kind": self.kind,
            "expression": self.expression,
            "timezone": self.timezone,
            "preset": self.preset,
        }

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next interval between consecutive cron fires.

        Without a start date (``restriction.earliest``) nothing is scheduled. The first interval
        starts at the first fire at or after the start date; later ones at the first fire at or
        after the previous interval's end (never before the start date). With catchup off, an
        interval older than the latest complete one as of ``now`` is skipped in favour of it.
        None if the interval would start after the end date.
        """
        if restriction.earliest is None:
            return None
        start = self._fire_at_or_after(utc(restriction.earliest))
        if last_automated_data_interval is not None:
            start = max(start, self._fire_at_or_after(utc(last_automated_data_interval.end)))
        if not restriction.catchup:
            latest_complete = self._latest_complete_start(utc(now or datetime.now(UTC)))
            start = max(start, latest_complete)
        if restriction.latest is not None and start > utc(restriction.latest):
            return None
        return DagRunInfo.interval(start, self._fire_after(start))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The interval that ended most recently, at or before ``run_after``."""
        end = self._fire_at_or_before(utc(run_after))
        return DataInterval(self._fire_before(end), end)

    # -- cron arithmetic (UTC in, UTC out) -----------------------------------------------------
    def fires(self, at_or_after: datetime) -> Iterator[datetime]:
        """Every fire time at or after ``at_or_after``, in order (an endless iterator)."""
        return self._walk(utc(at_or_after) - _ONE_MICROSECOND, forward=True)

    def _fire_at_or_after(self, at: datetime) -> datetime:
        return next(self._walk(at - _ONE_MICROSECOND, forward=True))

    def _fire_after(self, at: datetime) -> datetime:
        return next(self._walk(at, forward=True))

    def _fire_at_or_before(self, at: datetime) -> datetime:
        return next(self._walk(at + _ONE_MICROSECOND, forward=False))

    def _fire_before(self, at: datetime) -> datetime:
        return next(self._walk(at, forward=False))

    def _latest_complete_start(self, now: datetime) -> datetime:
        return self._fire_before(self._fire_at_or_before(now))

    def _walk(self, after: datetime, *, forward: bool) -> Iterator[datetime]:
        """Fires strictly after (or before) ``after``, skipping repeated wall-clock times."""
        zone = cron.zone(self.timezone)
        wall_clock = not cron.covers_every_hour(self.expression)
        it = croniter(self.expression, after.astimezone(zone))
        while True:
            fire: datetime = it.get_next(datetime) if forward else it.get_prev(datetime)
            if wall_clock and cron.is_repeated_wall_time(fire, zone):
                continue
            yield fire.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DeltaTimetable(Timetable):
    """A fixed-length schedule: ``[t, t + delta)`` intervals aligned to the start date.

    ``delta`` is absolute elapsed time, so intervals keep their length across DST changes.
    """

    delta: timedelta

    kind: ClassVar[str] = "delta"
    periodic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.delta, timedelta) or self.delta <= timedelta(0):
            raise ValueError(f"invalid timedelta {self.delta!r}: expected a positive timedelta")

    @property
    def summary(self) -> str:
        """``every <delta>``, e.g. ``every 1:00:00``."""
        return f"every {self.delta}"

    @property
    def description(self) -> str:
        """The interval in words: ``Every 30 minutes``, ``Every hour``, ``Every 1 day, 2 hours``."""
        return cron.describe_delta(self.delta)

    def to_json(self) -> dict[str, Any]:
        """``{"kind": "delta", "seconds": <total seconds as a float>}``."""
        return {"kind": self.kind, "seconds": self.delta.total_seconds()}

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime | None = None,
    ) -> DagRunInfo | None:
        """The next ``[t, t + delta)`` interval.

        Without a start date nothing is scheduled. The first interval starts at the start date,
        later ones at the previous interval's end (or at the start date if that is later). With
        catchup off, the interval jumps ahead by whole deltas to the latest complete one as of
        ``now`` when it is older. None if the interval would start after the end date.
        """
        if restriction.earliest is None:
            return None
        start = utc(restriction.earliest)
        if last_automated_data_interval is not None:
            start = max(start, utc(last_automated_data_interval.end))
        if not restriction.catchup:
            complete = (utc(now or datetime.now(UTC)) - start) // self.delta
            if complete > 1:
                start += (complete - 1) * self.delta
        if restriction.latest is not None and start > utc(restriction.latest):
            return None
        return DagRunInfo.interval(start, start + self.delta)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """``[run_after - delta, run_after)``."""
        end = utc(run_after)
        return DataInterval(end - self.delta, end)


def parse_schedule(schedule: object, timezone: str = "UTC") -> Timetable:
    """The timetable for a DAG's ``schedule`` argument, cron evaluated in ``timezone``.

    ``schedule`` is None (manual only), a cron expression, ``@once``, a preset (``@hourly``,
    ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``) or a positive ``timedelta``.
    ``timezone`` is an IANA name. Raises ValueError naming the bad value and what is accepted.
    """
    cron.zone(timezone)
    if schedule is None:
        return NullTimetable()
    if isinstance(schedule, timedelta):
        if schedule <= timedelta(0):
            raise ValueError(
                f"invalid schedule {schedule!r}: a timedelta schedule must be positive; "
                + _ACCEPTED
            )
        return DeltaTimetable(schedule)
    if not isinstance(schedule, str):
        raise ValueError(
            f"invalid schedule {schedule!r}: unsupported type {type(schedule).__name__}; "
            + _ACCEPTED
        )
    text = " ".join(schedule.split())
    if text == "@once":
        return OnceTimetable()
    if text == "@continuous":
        raise ValueError(
            f"invalid schedule {schedule!r}: @continuous is not supported; {_ACCEPTED}"
        )
    if text.startswith("@"):
        if text not in PRESETS:
            raise ValueError(f"invalid schedule {schedule!r}: unknown preset; {_ACCEPTED}")
        return CronTimetable(PRESETS[text], timezone, preset=text)
    problem = cron.problem(text)
    if problem is not None:
        raise ValueError(f"invalid schedule {schedule!r}: {problem}; {_ACCEPTED}")
    return CronTimetable(text, timezone)


def from_json(data: Mapping[str, Any]) -> Timetable:
    """The timetable :meth:`Timetable.to_json` serialized. Raises ValueError on bad data."""
    if not isinstance(data, Mapping):
        raise ValueError(f"invalid serialized timetable {data!r}: expected a JSON object")
    kind = data.get("kind")
    if kind == "none":
        return NullTimetable()
    if kind == "once":
        return OnceTimetable()
    if kind == "cron":
        expression = data.get("expression")
        timezone = data.get("timezone", "UTC")
        preset = data.get("preset")
        if (
            not isinstance(expression, str)
            or not isinstance(timezone, str)
            or not (preset is None or isinstance(preset, str))
        ):
            raise ValueError(
                f"invalid serialized cron timetable {dict(data)!r}: expected string "
                "'expression' and 'timezone', and 'preset' a string or null"
            )
        return CronTimetable(expression, timezone, preset)
    if kind == "delta":
        seconds = data.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(
                f"invalid serialized delta timetable {dict(data)!r}: expected numeric 'seconds'"
            )
        try:
            delta = timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(
                f"invalid serialized delta timetable {dict(data)!r}: 'seconds' out of range"
            ) from None
        return DeltaTimetable(delta)
    raise ValueError(
        f"invalid serialized timetable kind {kind!r}: expected 'none', 'once', 'cron' or 'delta'"
    )


def iter_dagrun_infos_between(
    timetable: Timetable,
    start: datetime,
    end: datetime,
    *,
    earliest: datetime | None = None,
) -> list[DagRunInfo]:
    """The runs of a backfill: every interval whose logical date lies in ``[start, end]``.

    Both bounds are inclusive. ``earliest`` (the DAG's start date) excludes intervals starting
    before it; timedelta intervals are aligned to it (or to ``start`` without it). Backfills
    need a periodic schedule: the result is empty for ``None`` and ``@once`` timetables.
    """
    start, end = utc(start), utc(end)
    lower = start if earliest is None else max(start, utc(earliest))
    infos: list[DagRunInfo] = []
    if isinstance(timetable, CronTimetable):
        fires = timetable.fires(lower)
        current = next(fires)
        while current <= end:
            following = next(fires)
            infos.append(DagRunInfo.interval(current, following))
            current = following
    elif isinstance(timetable, DeltaTimetable):
        delta = timetable.delta
        anchor = start if earliest is None else utc(earliest)
        current = anchor if anchor >= lower else anchor - ((anchor - lower) // delta) * delta
        while current <= end:
            infos.append(DagRunInfo.interval(current, current + delta))
            current += delta
    return infos


# -- helpers ------------------------------------------------------------------------------------
