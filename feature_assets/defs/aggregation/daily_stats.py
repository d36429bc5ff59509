"""Daily aggregates: one local day of one tier below, grouped."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import FEATURE, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.transforms import aggregation

CARRIER_DAILY_STATS = dg.AssetKey(["aggregation", "carrier_daily_stats"])
ORIGIN_WEATHER_DAILY = dg.AssetKey(["aggregation", "origin_weather_daily"])


@dg.asset(
    key=CARRIER_DAILY_STATS,
    check_specs=[contract_spec(CARRIER_DAILY_STATS)],
    output_required=False,
    ins={
        "flights": dg.AssetIn(
            key=["cleansing", "flights_clean"],
            metadata={"columns": ["flight_date", "carrier", "cancelled", "dep_delay"]},
        )
    },
    code_version="1",
    metadata=partitioned_by("flight_date"),
    **FEATURE,
)
def carrier_daily_stats(context: dg.AssetExecutionContext, flights: pl.LazyFrame):
    """One row per local day and carrier: volume, cancellations and departure delays.

    n_flights counts scheduled flights, n_cancelled those never departed; mean_dep_delay and
    pct_delayed_15 (share in [0, 1] with dep_delay >= 15) are over the flights that departed.
    """
    stats = aggregation.carrier_daily_stats(flights).collect()
    yield from publish(context, {CARRIER_DAILY_STATS: stats})


@dg.asset(
    key=ORIGIN_WEATHER_DAILY,
    check_specs=[contract_spec(ORIGIN_WEATHER_DAILY)],
    output_required=False,
    ins={"weather": dg.AssetIn(key=["cleansing", "weather_clean"])},
    code_version="1",
    metadata=partitioned_by("date"),
    **FEATURE,
)
def origin_weather_daily(context: dg.AssetExecutionContext, weather: pl.LazyFrame):
    """One row per local day (date) and origin: the day's weather in five numbers.

    mean_temp, max_wind_speed, total_precip, min_visib and hours_observed.
    """
    daily = aggregation.origin_weather_daily(weather).collect()
    yield from publish(context, {ORIGIN_WEATHER_DAILY: daily})
