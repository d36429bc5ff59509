"""Point-in-time training sets: each flight with the features known when it is predicted.

A flight is predicted at ``prediction_time`` = its scheduled departure (UTC) minus a lead time
(default 2 h). A feature row is usable from its ``available_at`` (``lib/features.py``):

- a weather hour (``weather_clean``, keyed by its UTC ``time_hour``) from the end of that hour;
- a daily aggregate of local day D (``carrier_delay_7d``, ``route_delay_28d``) from the end of D
  (local midnight).

Each group is joined as of the prediction time (``join_asof``, backward: the latest row available
at or before it, per entity) with a time-to-live after which the feature is null. Every group
keeps its ``*_available_at`` column, so that the leakage check (``leaks``) can prove, row by row,
that nothing was known later than the prediction.
"""

import datetime as dt
from dataclasses import dataclass

import polars as pl

from feature_assets.lib.features import (
    CARRIER_DELAY_7D,
    HOURLY_WEATHER,
    ROUTE_DELAY_28D,
    FeatureTable,
)
from feature_assets.lib.partitions import TIMEZONE

UTC = pl.Datetime("us", "UTC")
LEAD = dt.timedelta(hours=2)


def _ttl(table: FeatureTable) -> dt.timedelta:
    assert table.ttl is not None, f"{table.key.to_user_string()} has no time-to-live"
    return table.ttl


@dataclass(frozen=True)
class FeatureGroup:
    """Feature columns from one table, joined as of the prediction time on ``by``."""

    name: str
    by: tuple[str, ...]
    columns: tuple[str, ...]
    ttl: dt.timedelta

    @property
    def available_at(self) -> str:
        """The column holding when each joined row became known."""
        return f"{self.name}_available_at"


WEATHER = FeatureGroup(
    "weather", ("origin",), ("temp", "wind_speed", "precip", "visib"), _ttl(HOURLY_WEATHER)
)
CARRIER_7D = FeatureGroup(
    "carrier_7d", ("carrier",), ("mean_dep_delay_7d", "n_flights_7d"), _ttl(CARRIER_DELAY_7D)
)
ROUTE_28D = FeatureGroup(
    "route_28d",
    ("origin", "dest"),
    ("mean_arr_delay_28d", "n_flights_28d"),
    _ttl(ROUTE_DELAY_28D),
)
GROUPS = (WEATHER, CARRIER_7D, ROUTE_28D)
SCHEDULE = ["carrier", "origin", "dest", "distance", "dep_hour", "day_of_week", "plane_age_years"]
"""Known from the schedule and the planes table in advance: no availability time."""
LABEL = "dep_delayed_15"


def end_of_local_day(date: pl.Expr) -> pl.Expr:
    """Local midnight after ``date`` (a pl.Date), as a UTC instant."""
    return (
        (date.cast(pl.Datetime("us")) + pl.duration(days=1))
        .dt.replace_time_zone(TIMEZONE)
        .dt.convert_time_zone("UTC")
    )


def weather_rows(weather: pl.LazyFrame) -> pl.LazyFrame:
    """Hourly weather, usable from the end of its hour."""
    return weather.select(
        *WEATHER.by,
        *WEATHER.columns,
        (pl.col("time_hour") + pl.duration(hours=1)).alias(WEATHER.available_at),
    )


def daily_rows(frame: pl.LazyFrame, group: FeatureGroup, date_column: str) -> pl.LazyFrame:
    """A daily aggregate, usable from the end of its local day."""
    return frame.select(
        *group.by, *group.columns, end_of_local_day(pl.col(date_column)).alias(group.available_at)
    )


def training_set(
    labels: pl.LazyFrame,
    weather: pl.LazyFrame,
    carrier_7d: pl.LazyFrame,
    route_28d: pl.LazyFrame,
    lead: dt.timedelta = LEAD,
) -> pl.LazyFrame:
    """One row per flight of ``labels`` (``flight_features``) with point-in-time features.

    ``weather`` is ``weather_clean``; ``carrier_7d`` and ``route_28d`` the aggregates. Rows are
    ordered by ``flight_id``.
    """
    spine = labels.select(
        "flight_id",
        "flight_date",
        "sched_dep_utc",
        (pl.col("sched_dep_utc") - pl.lit(lead)).alias("prediction_time"),
        *SCHEDULE,
        LABEL,
    ).sort("prediction_time")
    sources = {
        WEATHER: weather_rows(weather),
        CARRIER_7D: daily_rows(carrier_7d, CARRIER_7D, "flight_date"),
        ROUTE_28D: daily_rows(route_28d, ROUTE_28D, "flight_date"),
    }
    for group, rows in sources.items():
        spine = spine.join_asof(
            rows.sort(group.available_at),
            left_on="prediction_time",
            right_on=group.available_at,
            by=list(group.by),
            strategy="backward",
            tolerance=group.ttl,
            check_sortedness=False,  # both sides are sorted just above; polars cannot tell by group
        )
    return spine.sort("flight_id")


def leaks(frame: pl.DataFrame) -> pl.DataFrame:
    """Every (flight, feature group) whose row was not known at the prediction time.

    Known means ``prediction_time - ttl <= available_at <= prediction_time``; a null
    ``available_at`` (no row within the time-to-live) is a null feature, not a leak. Returns the
    flight, its day, the group, when the row became known and the prediction time.
    """
    found = []
    for group in GROUPS:
        at, predicted = pl.col(group.available_at), pl.col("prediction_time")
        broken = (at > predicted) | (at < predicted - pl.lit(group.ttl))
        found.append(
            frame.filter(broken).select(
                "flight_id",
                "flight_date",
                pl.lit(group.name).alias("feature_group"),
                pl.lit(", ".join(group.columns)).alias("columns"),
                at.alias("available_at"),
                "prediction_time",
            )
        )
    return pl.concat(found)
