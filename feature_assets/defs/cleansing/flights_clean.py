"""Cleansing of flights: typed, deduplicated, time-zone-correct; bad rows quarantined."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import DAILY, partitioned_by
from feature_assets.lib.transforms import cleansing


@dg.multi_asset(
    outs={
        "flights_clean": dg.AssetOut(
            key_prefix="cleansing",
            description=(
                "One row per flight, keyed by flight_id, for the local day of scheduled "
                "departure (flight_date); sched_dep_utc is its UTC instant; cancelled = no "
                "departure time; delays in minutes."
            ),
            code_version="1",
            metadata=partitioned_by("flight_date"),
        ),
        "flights_quarantine": dg.AssetOut(
            key_prefix="cleansing",
            description=(
                "One row per delivered flight row that broke a cleansing rule: the rules, their "
                "columns, and the original values as JSON, by landing_date."
            ),
            code_version="1",
            metadata=partitioned_by("landing_date"),
        ),
    },
    ins={"raw_flights": dg.AssetIn(key_prefix="ingestion")},
    **DAILY,
)
def flights_clean(raw_flights: pl.LazyFrame):
    """Split the delivered flights into clean rows and quarantined rows."""
    clean, quarantine = cleansing.flights_clean(raw_flights)
    return clean.collect(), quarantine.collect()
