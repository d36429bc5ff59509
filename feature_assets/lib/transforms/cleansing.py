"""Cleansing: typed, deduplicated, time-zone-correct rows; the rest is quarantined with reasons."""

from collections.abc import Collection
from typing import Literal

import polars as pl

from feature_assets.lib.landing import FLIGHTS_SCHEMA, WEATHER_SCHEMA
from feature_assets.lib.partitions import TIMEZONE
from feature_assets.lib.rules import RowRule, contract_rules, split
from feature_assets.lib.schemas.cleansing import FlightsClean, weather_clean_model

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _utc(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(UTC_FORMAT, time_zone="UTC", strict=False)


def _local_to_utc(naive_local: pl.Expr, ambiguous: Literal["earliest", "latest"]) -> pl.Expr:
    return naive_local.dt.replace_time_zone(
        TIMEZONE, ambiguous=ambiguous, non_existent="null"
    ).dt.convert_time_zone("UTC")


def _resolve_local(naive_local: pl.Expr, utc_hour: pl.Expr) -> pl.Expr:
    """The UTC instant of a local time; null when it does not exist or disagrees with UTC.

    The producer's UTC hour picks the side of an ambiguous (repeated) autumn hour.
    """
    earliest = _local_to_utc(naive_local, "earliest")
    latest = _local_to_utc(naive_local, "latest")
    return (
        pl.when(earliest.dt.truncate("1h") == utc_hour)
        .then(earliest)
        .when(latest.dt.truncate("1h") == utc_hour)
        .then(latest)
    )


def flights_clean(
    raw: pl.LazyFrame,
    carriers: Collection[str] | None = None,
    airports: Collection[str] | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """One row per flight, keyed by ``flight_id``; returns (clean rows, quarantined rows).

    With ``carriers`` and ``airports`` (the codes of the dimension tables), a flight of an
    unknown carrier or from an unknown origin is quarantined. An unknown destination is not:
    real flights go to airports the dimension lacks (BQN, SJU, STT, PSE); see
    ``unknown_destinations``.

    ``flight_date`` is the local day of scheduled departure; ``sched_dep_utc`` its UTC instant;
    ``cancelled`` means no departure time was recorded. Delays are minutes.
    """
    flight_date = pl.date("year", "month", "day")
    sched_local = flight_date.cast(pl.Datetime("us")) + pl.duration(
        hours=pl.col("sched_dep_time") // 100, minutes=pl.col("sched_dep_time") % 100
    )
    typed = raw.with_columns(
        flight_date=flight_date,
        _sched_local=sched_local,
        _time_hour=_utc("time_hour"),
    ).with_columns(
        sched_dep_utc=_resolve_local(pl.col("_sched_local"), pl.col("_time_hour")),
        _local_exists=_local_to_utc(pl.col("_sched_local"), "earliest").is_not_null(),
    )
    rules = [
        *contract_rules(FlightsClean.to_schema(), FLIGHTS_SCHEMA.names()),
        RowRule(
            "date_matches_file",
            "year,month,day",
            pl.col("flight_date") != pl.col("landing_date"),
            "the row's local date (year, month, day) must be the day its file was delivered for",
        ),
        RowRule(
            "sched_dep_time_valid",
            "sched_dep_time",
            ~pl.col("sched_dep_time").is_between(0, 2359) | (pl.col("sched_dep_time") % 100 >= 60),
            "sched_dep_time must be a local HHMM time",
        ),
        RowRule(
            "local_time_exists",
            "sched_dep_time",
            ~pl.col("_local_exists"),
            f"the scheduled local time does not exist in {TIMEZONE} (daylight-saving gap)",
        ),
        RowRule(
            "time_hour_matches_local",
            "time_hour",
            pl.col("sched_dep_utc").is_null() & pl.col("_local_exists"),
            f"time_hour (UTC) must be the scheduled local hour in {TIMEZONE}",
        ),
    ]
    if carriers is not None:
        rules.append(
            RowRule(
                "carrier_known",
                "carrier",
                ~pl.col("carrier").is_in(list(carriers)),
                "carrier must be a code of ingestion.airlines",
            )
        )
    if airports is not None:
        rules.append(
            RowRule(
                "origin_known",
                "origin",
                ~pl.col("origin").is_in(list(airports)),
                "origin must be a code of ingestion.airports",
            )
        )
    flight_id = pl.concat_str(
        pl.col("flight_date").dt.strftime("%Y%m%d"),
        pl.lit("-"),
        pl.col("carrier"),
        pl.col("flight").cast(pl.String),
        pl.lit("-"),
        pl.col("origin"),
        pl.lit("-"),
        pl.col("sched_dep_time").cast(pl.String).str.zfill(4),
    )
    keyed = typed.with_columns(flight_id=flight_id)
    passing, quarantine = split(
        keyed, rules, record_columns=FLIGHTS_SCHEMA.names(), unique_key=["flight_id"]
    )
    clean = passing.select(
        "flight_id",
        "flight_date",
        "sched_dep_utc",
        "carrier",
        "flight",
        "tailnum",
        "origin",
        "dest",
        "sched_dep_time",
        "dep_time",
        "dep_delay",
        "sched_arr_time",
        "arr_time",
        "arr_delay",
        "air_time",
        "distance",
        cancelled=pl.col("dep_time").is_null(),
    )
    return clean, quarantine


def weather_clean(raw: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """One row per origin and UTC hour; returns (clean rows, quarantined rows).

    ``time_hour`` is the UTC hour of the observation, ``obs_date`` its local day.
    """
    local_hour = pl.datetime("year", "month", "day", "hour")
    typed = raw.with_columns(_utc_hour=_utc("time_hour")).with_columns(
        obs_date=pl.col("_utc_hour").dt.convert_time_zone(TIMEZONE).dt.date(),
        _resolved=_resolve_local(local_hour, pl.col("_utc_hour")),
    )
    rules = [
        *contract_rules(weather_clean_model, set(WEATHER_SCHEMA.names()) - {"time_hour"}),
        RowRule(
            "time_hour_not_null",
            "time_hour",
            pl.col("_utc_hour").is_null(),
            "a UTC time_hour (YYYY-MM-DDTHH:MM:SSZ) is required",
        ),
        RowRule(
            "time_hour_matches_local",
            "time_hour",
            pl.col("_resolved").is_null() & pl.col("_utc_hour").is_not_null(),
            f"time_hour (UTC) must be the row's local year/month/day/hour in {TIMEZONE}",
        ),
        RowRule(
            "date_matches_file",
            "time_hour",
            pl.col("obs_date") != pl.col("landing_date"),
            "the observation's local date must be the day its file was delivered for",
        ),
    ]
    passing, quarantine = split(
        typed, rules, record_columns=WEATHER_SCHEMA.names(), unique_key=["origin", "_utc_hour"]
    )
    clean = passing.select(
        "origin",
        "obs_date",
        "temp",
        "dewp",
        "humid",
        "wind_dir",
        "wind_speed",
        "wind_gust",
        "precip",
        "pressure",
        "visib",
        time_hour="_utc_hour",
    ).select("origin", "time_hour", pl.exclude("origin", "time_hour"))
    return clean, quarantine


def unknown_destinations(clean: pl.DataFrame, airports: Collection[str]) -> pl.DataFrame:
    """Per day, destinations that are not in the airports dimension, with their flights."""
    return (
        clean.filter(~pl.col("dest").is_in(list(airports)))
        .group_by("flight_date", "dest")
        .len()
        .sort("flight_date", "dest")
    )
