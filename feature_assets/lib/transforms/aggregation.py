"""Aggregation: daily and trailing-window features from the daily partitions of the tiers below.

A trailing window for day D covers the local days D-(n-1)..D. Its rows exist for the keys that
have at least one counted flight in the window; ``n_flights_*`` counts the flights the mean is
taken over.
"""

import datetime as dt

import polars as pl

from feature_assets.lib.transforms.transformation import DELAYED_MINUTES

departed = ~pl.col("cancelled") & pl.col("dep_delay").is_not_null()


def carrier_daily_stats(flights: pl.LazyFrame) -> pl.LazyFrame:
    """One row per local day and carrier: volume, cancellations and departure delays.

    ``n_flights`` counts all scheduled flights; ``mean_dep_delay`` and ``pct_delayed_15`` (a share
    in [0, 1]) are over the flights that departed.
    """
    return (
        flights.group_by("flight_date", "carrier")
        .agg(
            n_flights=pl.len().cast(pl.Int32),
            n_cancelled=pl.col("cancelled").sum().cast(pl.Int32),
            mean_dep_delay=pl.col("dep_delay").filter(departed).mean(),
            pct_delayed_15=(pl.col("dep_delay") >= DELAYED_MINUTES).filter(departed).mean(),
        )
        .sort("flight_date", "carrier")
    )


def trailing_mean(
    rows: pl.LazyFrame,
    date: str,
    keys: list[str],
    value: str,
    days: int,
    first: dt.date,
    last: dt.date,
) -> pl.LazyFrame:
    """Per output day D in [first, last] and key: mean and count of ``value`` over D-(days-1)..D.

    Exact and gap-safe: each day's sums are credited to the ``days`` output days whose window
    holds it, then summed; a missing day simply contributes nothing.
    """
    daily = (
        rows.filter(pl.col(value).is_not_null())
        .group_by(date, *keys)
        .agg(_sum=pl.col(value).cast(pl.Float64).sum(), _n=pl.len())
    )
    return (
        daily.with_columns(_offset=pl.int_ranges(0, days))
        .explode("_offset")
        .with_columns(pl.col(date) + pl.duration(days=pl.col("_offset")))
        .filter(pl.col(date).is_between(first, last))
        .group_by(date, *keys)
        .agg(_sum=pl.col("_sum").sum(), _n=pl.col("_n").sum())
        .select(date, *keys, _mean=pl.col("_sum") / pl.col("_n"), _n=pl.col("_n").cast(pl.Int32))
        .sort(date, *keys)
    )


def carrier_delay_7d(flights: pl.LazyFrame, first: dt.date, last: dt.date) -> pl.LazyFrame:
    """One row per local day D and carrier: mean dep_delay of departed flights over D-6..D.

    Flight-weighted: every departed flight counts once, whatever its day's volume.
    """
    return trailing_mean(
        flights.filter(departed), "flight_date", ["carrier"], "dep_delay", 7, first, last
    ).rename({"_mean": "mean_dep_delay_7d", "_n": "n_flights_7d"})


def route_delay_28d(flights: pl.LazyFrame, first: dt.date, last: dt.date) -> pl.LazyFrame:
    """One row per local day D and route: mean arr_delay over D-27..D of flights with one."""
    return trailing_mean(
        flights, "flight_date", ["origin", "dest"], "arr_delay", 28, first, last
    ).rename({"_mean": "mean_arr_delay_28d", "_n": "n_flights_28d"})


def origin_weather_daily(weather: pl.LazyFrame) -> pl.LazyFrame:
    """One row per local day and origin: the day's weather in a few numbers."""
    return (
        weather.group_by(date="obs_date", origin="origin")
        .agg(
            mean_temp=pl.col("temp").mean(),
            max_wind_speed=pl.col("wind_speed").max(),
            total_precip=pl.col("precip").sum(),
            min_visib=pl.col("visib").min(),
            hours_observed=pl.len().cast(pl.Int32),
        )
        .sort("date", "origin")
    )
