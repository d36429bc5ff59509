"""Daily aggregates: one local day of one tier below, grouped."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import DAILY, partitioned_by
from feature_assets.lib.transforms import aggregation


@dg.asset(
    key_prefix="aggregation",
    ins={
        "flights": dg.AssetIn(
            key=["cleansing", "flights_clean"],
            metadata={"columns": ["flight_date", "carrier", "cancelled", "dep_delay"]},
        )
    },
    code_version="1",
    metadata=partitioned_by("flight_date"),
    **DAILY,
)
def carrier_daily_stats(flights: pl.LazyFrame) -> pl.DataFrame:
    """One row per local day and carrier: volume, cancellations and departure delays.

    n_flights counts scheduled flights, n_cancelled those never departed; mean_dep_delay and
    pct_delayed_15 (share in [0, 1] with dep_delay >= 15) are over the flights that departed.
    """
    return aggregation.carrier_daily_stats(flights).collect()


@dg.asset(
    key_prefix="aggregation",
    ins={"weather": dg.AssetIn(key=["cleansing", "weather_clean"])},
    code_version="1",
    metadata=partitioned_by("date"),
    **DAILY,
)
def origin_weather_daily(weather: pl.LazyFrame) -> pl.DataFrame:
    """One row per local day (date) and origin: the day's weather in five numbers.

    mean_temp, max_wind_speed, total_precip, min_visib and hours_observed.
    """
    return aggregation.origin_weather_daily(weather).collect()
