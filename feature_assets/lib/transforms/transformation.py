"""Transformation: per-flight features, ready for a model."""

import polars as pl

from feature_assets.lib.partitions import TIMEZONE

WEATHER_FEATURES = ["temp", "wind_speed", "precip", "visib"]
DELAYED_MINUTES = 15
FEATURE_COLUMNS = [
    "flight_id",
    "flight_date",
    "sched_dep_utc",
    "carrier",
    "origin",
    "dest",
    "distance",
    "dep_hour",
    "day_of_week",
    "plane_age_years",
    *WEATHER_FEATURES,
    "dep_delayed_15",
]


def flight_features(
    flights: pl.LazyFrame, weather: pl.LazyFrame, planes: pl.LazyFrame
) -> pl.LazyFrame:
    """One row per flight: schedule, route, plane age, origin weather and the label.

    The weather is the origin's observation for the UTC hour of the scheduled departure (null when
    that hour was not observed). ``plane_age_years`` is the flight's year minus the plane's year
    of manufacture (null when the plane or its year is unknown). ``dep_delayed_15`` is
    ``dep_delay >= 15`` and null for a cancelled flight.
    """
    hourly = weather.select("origin", "time_hour", *WEATHER_FEATURES)
    plane_years = planes.select("tailnum", plane_year="year").unique("tailnum", keep="first")
    return (
        flights.with_columns(time_hour=pl.col("sched_dep_utc").dt.truncate("1h"))
        .join(hourly, on=["origin", "time_hour"], how="left")
        .join(plane_years, on="tailnum", how="left")
        .with_columns(
            dep_hour=pl.col("sched_dep_utc").dt.convert_time_zone(TIMEZONE).dt.hour().cast(pl.Int8),
            day_of_week=pl.col("flight_date").dt.weekday(),
            plane_age_years=(pl.col("flight_date").dt.year() - pl.col("plane_year")).cast(pl.Int32),
            dep_delayed_15=pl.when(~pl.col("cancelled")).then(
                pl.col("dep_delay") >= DELAYED_MINUTES
            ),
        )
        .select(FEATURE_COLUMNS)
    )
