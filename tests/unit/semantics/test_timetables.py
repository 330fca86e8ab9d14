"""Timetables: parsing schedules, serialization, and Airflow's data-interval semantics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gnomon.semantics import timetables
from gnomon.semantics.timetables import (
    CronTimetable,
    DagRunInfo,
    DataInterval,
    DeltaTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    Timetable,
    from_json,
    iter_dagrun_infos_between,
    parse_schedule,
    utc,
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def catchup(earliest: datetime | None, latest: datetime | None = None) -> TimeRestriction:
    return TimeRestriction(earliest=earliest, latest=latest, catchup=True)


def no_catchup(earliest: datetime | None, latest: datetime | None = None) -> TimeRestriction:
    return TimeRestriction(earliest=earliest, latest=latest, catchup=False)


def interval(info: DagRunInfo | None) -> tuple[datetime, datetime]:
    assert info is not None
    return info.data_interval.start, info.data_interval.end


def following(
    timetable: Timetable,
    restriction: TimeRestriction,
    count: int,
    now: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    """The first ``count`` intervals the scheduler would create, one after the other."""
    out: list[tuple[datetime, datetime]] = []
    last: DataInterval | None = None
    for _ in range(count):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction, now=now
        )
        assert info is not None
        out.append(interval(info))
        last = info.data_interval
    return out


# -- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "expression"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
    ],
)
def test_preset_maps_to_its_cron_expression(preset: str, expression: str) -> None:
    timetable = parse_schedule(preset)
    assert isinstance(timetable, CronTimetable)
    assert timetable.expression == expression
    assert timetable.kind == "cron"
    assert timetable.periodic


def test_preset_summary_keeps_the_preset_text() -> None:
    assert parse_schedule("@daily").summary == "@daily"


def test_cron_string_parses_to_a_cron_timetable_in_the_given_timezone() -> None:
    timetable = parse_schedule("*/5 * * * *", "Europe/Paris")
    assert timetable == CronTimetable("*/5 * * * *", "Europe/Paris")
    assert timetable.summary == "*/5 * * * *"


def test_cron_string_whitespace_is_normalised() -> None:
    assert parse_schedule("  0   0 * * * ").summary == "0 0 * * *"


def test_none_schedule_is_manual_only() -> None:
    timetable = parse_schedule(None)
    assert isinstance(timetable, NullTimetable)
    assert (timetable.kind, timetable.summary, timetable.periodic) == ("none", "None", False)
    assert timetable.description == "Never (manual only)"


def test_once_preset_is_a_single_run() -> None:
    timetable = parse_schedule("@once")
    assert isinstance(timetable, OnceTimetable)
    assert (timetable.kind, timetable.summary, timetable.periodic) == ("once", "@once", False)
    assert timetable.description == "Once"


def test_timedelta_schedule_is_a_delta_timetable() -> None:
    timetable = parse_schedule(timedelta(hours=1))
    assert timetable == DeltaTimetable(timedelta(hours=1))
    assert (timetable.kind, timetable.summary, timetable.periodic) == (
        "delta",
        "every 1:00:00",
        True,
    )


@pytest.mark.parametrize(
    ("schedule", "shown"),
    [
        ("0 0 * *", "'0 0 * *'"),
        ("61 * * * *", "'61 * * * *'"),
        ("* * * * * *", "'* * * * * *'"),
        ("0 0 31 2 *", "'0 0 31 2 *'"),
        ("@fortnightly", "'@fortnightly'"),
        ("@continuous", "'@continuous'"),
        ("", "''"),
        (timedelta(0), "timedelta(0)"),
        (timedelta(minutes=-5), "timedelta(days=-1, seconds=86100)"),
        (5, "5"),
        (True, "True"),
        (["0 0 * * *"], "['0 0 * * *']"),
    ],
)
def test_invalid_schedule_raises_value_error_naming_the_value(schedule: object, shown: str) -> None:
    with pytest.raises(ValueError, match="invalid schedule") as excinfo:
        parse_schedule(schedule)
    message = str(excinfo.value)
    assert shown in message
    assert "expected None, a cron expression, one of @once @hourly" in message
    assert "timedelta" in message


def test_continuous_is_reported_as_unsupported() -> None:
    with pytest.raises(ValueError, match="@continuous is not supported"):
        parse_schedule("@continuous")


def test_unknown_timezone_raises_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="invalid timezone 'Mars/Olympus'"):
        parse_schedule("@daily", "Mars/Olympus")


def test_delta_timetable_rejects_non_positive_delta() -> None:
    with pytest.raises(ValueError, match="positive"):
        DeltaTimetable(timedelta(0))


# -- serialization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timetable",
    [
        NullTimetable(),
        OnceTimetable(),
        CronTimetable("*/5 * * * *"),
        CronTimetable("0 0 * * *", "Europe/Paris", preset="@daily"),
        DeltaTimetable(timedelta(hours=1)),
        DeltaTimetable(timedelta(days=2, microseconds=7)),
    ],
    ids=["none", "once", "cron", "preset-in-tz", "delta", "delta-microseconds"],
)
def test_json_round_trip(timetable: Timetable) -> None:
    data = json.loads(json.dumps(timetable.to_json()))
    assert from_json(data) == timetable


def test_cron_to_json_names_expression_and_timezone() -> None:
    assert parse_schedule("0 0 * * *", "Europe/Paris").to_json() == {
        "kind": "cron",
        "expression": "0 0 * * *",
        "timezone": "Europe/Paris",
        "preset": None,
    }


def test_from_json_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="'hourglass'"):
        from_json({"kind": "hourglass"})


def test_from_json_rejects_a_preset_that_does_not_match_the_expression() -> None:
    with pytest.raises(ValueError, match="'@daily'"):
        from_json({"kind": "cron", "expression": "0 1 * * *", "preset": "@daily"})


def test_from_json_rejects_a_bad_cron_expression() -> None:
    with pytest.raises(ValueError, match="'not cron'"):
        from_json({"kind": "cron", "expression": "not cron", "timezone": "UTC"})


# -- first run -----------------------------------------------------------------------------------


def test_first_interval_with_catchup_aligns_to_the_next_fire_after_start_date() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(at(2024, 1, 1, 12))
    )
    assert info == DagRunInfo(
        logical_date=at(2024, 1, 2),
        data_interval=DataInterval(at(2024, 1, 2), at(2024, 1, 3)),
        run_after=at(2024, 1, 3),
    )


def test_first_interval_with_catchup_starts_at_a_start_date_on_a_fire_time() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(at(2024, 1, 1))
    )
    assert interval(info) == (at(2024, 1, 1), at(2024, 1, 2))


def test_next_interval_with_catchup_starts_where_the_last_one_ended() -> None:
    timetable = parse_schedule("@daily")
    assert following(timetable, catchup(at(2024, 1, 1)), 3) == [
        (at(2024, 1, 1), at(2024, 1, 2)),
        (at(2024, 1, 2), at(2024, 1, 3)),
        (at(2024, 1, 3), at(2024, 1, 4)),
    ]


def test_catchup_true_runs_the_backlog_after_an_old_last_run() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 1, 1), at(2024, 1, 2)),
        restriction=catchup(at(2024, 1, 1)),
        now=at(2024, 6, 1, 12),
    )
    assert interval(info) == (at(2024, 1, 2), at(2024, 1, 3))


def test_catchup_false_picks_the_latest_complete_interval() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None,
        restriction=no_catchup(at(2024, 1, 1)),
        now=at(2024, 6, 1, 12),
    )
    assert interval(info) == (at(2024, 5, 31), at(2024, 6, 1))


def test_catchup_false_at_an_interval_boundary_picks_the_interval_ending_now() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None,
        restriction=no_catchup(at(2024, 1, 1)),
        now=at(2024, 6, 1),
    )
    assert interval(info) == (at(2024, 5, 31), at(2024, 6, 1))


def test_catchup_false_never_starts_before_the_start_date() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None,
        restriction=no_catchup(at(2024, 5, 31, 6)),
        now=at(2024, 6, 1, 12),
    )
    assert interval(info) == (at(2024, 6, 1), at(2024, 6, 2))


def test_catchup_false_with_future_start_date_returns_the_first_interval() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None,
        restriction=no_catchup(at(2024, 7, 1)),
        now=at(2024, 6, 1, 12),
    )
    assert info is not None
    assert interval(info) == (at(2024, 7, 1), at(2024, 7, 2))
    assert info.run_after == at(2024, 7, 2)


def test_catchup_false_with_last_run_far_in_the_past_skips_ahead() -> None:
    info = parse_schedule("@hourly").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 1, 1, 3), at(2024, 1, 1, 4)),
        restriction=no_catchup(at(2024, 1, 1)),
        now=at(2024, 6, 1, 12, 30),
    )
    assert interval(info) == (at(2024, 6, 1, 11), at(2024, 6, 1, 12))


def test_catchup_false_with_recent_last_run_continues_from_it() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 5, 31), at(2024, 6, 1)),
        restriction=no_catchup(at(2024, 1, 1)),
        now=at(2024, 6, 1, 12),
    )
    assert interval(info) == (at(2024, 6, 1), at(2024, 6, 2))


def test_next_interval_aligns_an_off_schedule_last_end_to_the_next_fire() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 1, 1, 6), at(2024, 1, 2, 6)),
        restriction=catchup(at(2024, 1, 1)),
    )
    assert interval(info) == (at(2024, 1, 3), at(2024, 1, 4))


def test_end_date_stops_scheduling() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 1, 3), at(2024, 1, 4)),
        restriction=catchup(at(2024, 1, 1), latest=at(2024, 1, 3, 12)),
    )
    assert info is None


def test_interval_starting_exactly_at_end_date_is_still_scheduled() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 1, 2), at(2024, 1, 3)),
        restriction=catchup(at(2024, 1, 1), latest=at(2024, 1, 3)),
    )
    assert interval(info) == (at(2024, 1, 3), at(2024, 1, 4))


@pytest.mark.parametrize("schedule", ["@daily", timedelta(hours=6)])
def test_periodic_schedule_without_start_date_is_never_scheduled(schedule: object) -> None:
    info = parse_schedule(schedule).next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(None), now=at(2024, 6, 1)
    )
    assert info is None


def test_naive_datetimes_are_taken_as_utc() -> None:
    info = parse_schedule("@daily").next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(datetime(2024, 1, 1, 12))
    )
    assert interval(info) == (at(2024, 1, 2), at(2024, 1, 3))


# -- time zones ----------------------------------------------------------------------------------


def test_daily_cron_in_paris_fires_at_local_midnight_across_spring_forward() -> None:
    timetable = parse_schedule("0 0 * * *", "Europe/Paris")
    ends = [end for _, end in following(timetable, catchup(at(2024, 3, 29, 12)), 3)]
    assert ends == [at(2024, 3, 30, 23), at(2024, 3, 31, 22), at(2024, 4, 1, 22)]


def test_daily_cron_in_paris_fires_at_local_midnight_across_fall_back() -> None:
    timetable = parse_schedule("0 0 * * *", "Europe/Paris")
    ends = [end for _, end in following(timetable, catchup(at(2024, 10, 25, 12)), 3)]
    assert ends == [at(2024, 10, 26, 22), at(2024, 10, 27, 23), at(2024, 10, 28, 23)]


def test_intervals_are_returned_in_utc() -> None:
    info = parse_schedule("0 0 * * *", "Europe/Paris").next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(at(2024, 1, 1))
    )
    assert info is not None
    assert info.logical_date.tzinfo is UTC
    assert info.run_after.tzinfo is UTC


def test_fixed_hour_cron_fires_once_when_clocks_go_back() -> None:
    timetable = parse_schedule("30 2 * * *", "Europe/Paris")
    starts = [start for start, _ in following(timetable, catchup(at(2024, 10, 26)), 3)]
    # 02:30 happens twice in Paris on 27 October 2024; only the first (CEST, 00:30 UTC) counts.
    assert starts == [at(2024, 10, 26, 0, 30), at(2024, 10, 27, 0, 30), at(2024, 10, 28, 1, 30)]


def test_hourly_cron_stays_hourly_in_utc_when_clocks_go_back() -> None:
    timetable = parse_schedule("@hourly", "Europe/Paris")
    starts = [start for start, _ in following(timetable, catchup(at(2024, 10, 26, 23)), 4)]
    assert starts == [
        at(2024, 10, 26, 23),
        at(2024, 10, 27),
        at(2024, 10, 27, 1),
        at(2024, 10, 27, 2),
    ]


def test_cron_is_evaluated_in_utc_by_default() -> None:
    info = parse_schedule("0 9 * * *").next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(at(2024, 1, 1))
    )
    assert interval(info) == (at(2024, 1, 1, 9), at(2024, 1, 2, 9))


# -- timedelta schedules -------------------------------------------------------------------------


def test_timedelta_intervals_are_aligned_to_the_start_date() -> None:
    timetable = parse_schedule(timedelta(hours=6))
    assert following(timetable, catchup(at(2024, 1, 1, 1, 15)), 2) == [
        (at(2024, 1, 1, 1, 15), at(2024, 1, 1, 7, 15)),
        (at(2024, 1, 1, 7, 15), at(2024, 1, 1, 13, 15)),
    ]


def test_timedelta_catchup_false_skips_to_the_latest_complete_interval_on_the_grid() -> None:
    info = parse_schedule(timedelta(hours=6)).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=no_catchup(at(2024, 1, 1, 1, 15)),
        now=at(2024, 1, 3, 14),
    )
    assert interval(info) == (at(2024, 1, 3, 7, 15), at(2024, 1, 3, 13, 15))


def test_timedelta_catchup_false_before_the_first_interval_ends_returns_it() -> None:
    info = parse_schedule(timedelta(hours=6)).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=no_catchup(at(2024, 1, 1)),
        now=at(2024, 1, 1, 3),
    )
    assert interval(info) == (at(2024, 1, 1), at(2024, 1, 1, 6))


# -- none and once -------------------------------------------------------------------------------


def test_none_timetable_never_schedules() -> None:
    info = parse_schedule(None).next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(at(2024, 1, 1))
    )
    assert info is None


def test_once_timetable_schedules_a_single_run_at_the_start_date() -> None:
    info = parse_schedule("@once").next_dagrun_info(
        last_automated_data_interval=None, restriction=no_catchup(at(2024, 1, 1, 8))
    )
    assert info == DagRunInfo.exact(at(2024, 1, 1, 8))


def test_once_timetable_schedules_nothing_after_its_run() -> None:
    info = parse_schedule("@once").next_dagrun_info(
        last_automated_data_interval=DataInterval(at(2024, 1, 1), at(2024, 1, 1)),
        restriction=catchup(at(2024, 1, 1)),
    )
    assert info is None


def test_once_timetable_without_start_date_schedules_nothing() -> None:
    info = parse_schedule("@once").next_dagrun_info(
        last_automated_data_interval=None, restriction=catchup(None)
    )
    assert info is None


# -- manual runs ---------------------------------------------------------------------------------


def test_manual_interval_for_cron_is_the_last_complete_interval() -> None:
    data_interval = parse_schedule("@daily").infer_manual_data_interval(
        run_after=at(2024, 1, 25, 1)
    )
    assert data_interval == DataInterval(at(2024, 1, 24), at(2024, 1, 25))


def test_manual_interval_for_cron_at_a_fire_time_ends_at_that_fire() -> None:
    data_interval = parse_schedule("@daily").infer_manual_data_interval(run_after=at(2024, 1, 25))
    assert data_interval == DataInterval(at(2024, 1, 24), at(2024, 1, 25))


def test_manual_interval_for_cron_uses_the_dag_timezone() -> None:
    timetable = parse_schedule("@daily", "Europe/Paris")
    data_interval = timetable.infer_manual_data_interval(run_after=at(2024, 1, 25, 1))
    assert data_interval == DataInterval(at(2024, 1, 23, 23), at(2024, 1, 24, 23))


def test_manual_interval_for_timedelta_ends_at_the_trigger_time() -> None:
    timetable = parse_schedule(timedelta(hours=2))
    data_interval = timetable.infer_manual_data_interval(run_after=at(2024, 1, 25, 1, 30))
    assert data_interval == DataInterval(at(2024, 1, 24, 23, 30), at(2024, 1, 25, 1, 30))


@pytest.mark.parametrize("schedule", [None, "@once"])
def test_manual_interval_without_period_is_empty_at_the_trigger_time(schedule: object) -> None:
    data_interval = parse_schedule(schedule).infer_manual_data_interval(
        run_after=at(2024, 1, 25, 1)
    )
    assert data_interval == DataInterval(at(2024, 1, 25, 1), at(2024, 1, 25, 1))


# -- backfills -----------------------------------------------------------------------------------


def test_backfill_range_includes_both_bounds() -> None:
    infos = iter_dagrun_infos_between(parse_schedule("@daily"), at(2024, 1, 1), at(2024, 1, 3))
    assert [info.logical_date for info in infos] == [at(2024, 1, 1), at(2024, 1, 2), at(2024, 1, 3)]
    assert infos[-1].data_interval == DataInterval(at(2024, 1, 3), at(2024, 1, 4))


def test_backfill_range_aligns_a_mid_interval_start_to_the_next_fire() -> None:
    infos = iter_dagrun_infos_between(
        parse_schedule("@daily"), at(2023, 12, 31, 12), at(2024, 1, 3, 12)
    )
    assert [info.logical_date for info in infos] == [at(2024, 1, 1), at(2024, 1, 2), at(2024, 1, 3)]


def test_backfill_over_three_full_days_has_four_runs_when_the_end_is_a_fire() -> None:
    infos = iter_dagrun_infos_between(parse_schedule("@daily"), at(2024, 1, 1), at(2024, 1, 4))
    assert len(infos) == 4


def test_backfill_skips_intervals_before_the_earliest_date() -> None:
    infos = iter_dagrun_infos_between(
        parse_schedule("@daily"), at(2024, 1, 1), at(2024, 1, 4), earliest=at(2024, 1, 2, 12)
    )
    assert [info.logical_date for info in infos] == [at(2024, 1, 3), at(2024, 1, 4)]


def test_backfill_timedelta_intervals_align_to_the_earliest_date() -> None:
    infos = iter_dagrun_infos_between(
        parse_schedule(timedelta(hours=12)),
        at(2024, 1, 1, 8),
        at(2024, 1, 2, 8),
        earliest=at(2023, 12, 1, 6),
    )
    assert [info.logical_date for info in infos] == [at(2024, 1, 1, 18), at(2024, 1, 2, 6)]


def test_backfill_timedelta_without_earliest_starts_at_the_range_start() -> None:
    infos = iter_dagrun_infos_between(
        parse_schedule(timedelta(days=1)), at(2024, 1, 1, 8), at(2024, 1, 3, 8)
    )
    assert [info.logical_date for info in infos] == [
        at(2024, 1, 1, 8),
        at(2024, 1, 2, 8),
        at(2024, 1, 3, 8),
    ]


@pytest.mark.parametrize("schedule", [None, "@once"])
def test_backfill_needs_a_periodic_schedule(schedule: object) -> None:
    assert iter_dagrun_infos_between(parse_schedule(schedule), at(2024, 1, 1), at(2024, 1, 3)) == []


def test_backfill_with_end_before_start_is_empty() -> None:
    assert iter_dagrun_infos_between(parse_schedule("@daily"), at(2024, 1, 3), at(2024, 1, 1)) == []


# -- descriptions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "description"),
    [
        ("@hourly", "Every hour at minute 0"),
        ("@daily", "Every day at 00:00"),
        ("@weekly", "Every Sunday at 00:00"),
        ("@monthly", "On day 1 of every month at 00:00"),
        ("@yearly", "Every year on January 1 at 00:00"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("* * * * *", "Every minute"),
        ("15 * * * *", "Every hour at minute 15"),
        ("30 6 * * *", "Every day at 06:30"),
        ("0 9 * * 1-5", "Every weekday (Monday to Friday) at 09:00"),
        ("0 */6 * * *", "Every 6 hours at minute 0"),
        ("*/15 9-17 * * 1-5", "cron: */15 9-17 * * 1-5 (UTC)"),
    ],
)
def test_cron_description(schedule: str, description: str) -> None:
    assert parse_schedule(schedule).description == description


def test_cron_description_at_a_local_time_names_the_timezone() -> None:
    assert (
        parse_schedule("@daily", "Europe/Paris").description == "Every day at 00:00 (Europe/Paris)"
    )


@pytest.mark.parametrize(
    ("delta", "description"),
    [
        (timedelta(minutes=30), "Every 30 minutes"),
        (timedelta(hours=1), "Every hour"),
        (timedelta(days=1, hours=2), "Every 1 day, 2 hours"),
    ],
)
def test_timedelta_description(delta: timedelta, description: str) -> None:
    assert parse_schedule(delta).description == description


# -- utc -----------------------------------------------------------------------------------------


def test_utc_assumes_naive_datetimes_are_utc() -> None:
    assert utc(datetime(2024, 1, 1, 12)) == at(2024, 1, 1, 12)
    assert utc(datetime(2024, 1, 1, 12)).tzinfo is UTC


def test_utc_converts_aware_datetimes() -> None:
    paris_noon = datetime(2024, 7, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
    converted = timetables.utc(paris_noon)
    assert converted == at(2024, 7, 1, 10)
    assert converted.tzinfo is UTC
