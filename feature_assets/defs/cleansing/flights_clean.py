"""Cleansing of flights: typed, deduplicated, time-zone-correct; bad rows quarantined."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import DAILY, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.transforms import cleansing

CLEAN = dg.AssetKey(["cleansing", "flights_clean"])
QUARANTINE = dg.AssetKey(["cleansing", "flights_quarantine"])


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
            is_required=False,
            metadata=partitioned_by("flight_date"),
        ),
        "flights_quarantine": dg.AssetOut(
            key_prefix="cleansing",
            description=(
                "One row per delivered flight row that broke a cleansing rule: the rules, their "
                "columns, and the original values as JSON, by landing_date."
            ),
            code_version="1",
            is_required=False,
            metadata=partitioned_by("landing_date"),
        ),
    },
    ins={"raw_flights": dg.AssetIn(key_prefix="ingestion")},
    check_specs=[contract_spec(CLEAN), contract_spec(QUARANTINE)],
    **DAILY,
)
def flights_clean(context: dg.AssetExecutionContext, raw_flights: pl.LazyFrame):
    """Split the delivered flights into clean rows and quarantined rows."""
    clean, quarantine = cleansing.flights_clean(raw_flights)
    yield from publish(context, {CLEAN: clean.collect(), QUARANTINE: quarantine.collect()})
