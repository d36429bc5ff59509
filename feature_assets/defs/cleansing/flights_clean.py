"""Cleansing of flights: typed, deduplicated, time-zone-correct; bad rows quarantined."""

import datetime as dt

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from feature_assets.lib.assets import DAILY, FEATURE_CONDITION, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.gates import (
    DriftRule,
    bin_counts,
    drift,
    drift_spec,
    known_destinations,
    known_destinations_spec,
)
from feature_assets.lib.partitions import window_dates
from feature_assets.lib.transforms import cleansing
from feature_assets.lib.warehouse import read_rows, table_name

CLEAN = dg.AssetKey(["cleansing", "flights_clean"])
QUARANTINE = dg.AssetKey(["cleansing", "flights_quarantine"])
DEP_DELAY_DRIFT = DriftRule("dep_delay", (-10, -5, 0, 5, 15, 30, 60, 120, 240))


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
            automation_condition=FEATURE_CONDITION,
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
            automation_condition=FEATURE_CONDITION,
            metadata=partitioned_by("landing_date"),
        ),
    },
    ins={
        "raw_flights": dg.AssetIn(key_prefix="ingestion"),
        "airlines": dg.AssetIn(key=["ingestion", "airlines"], metadata={"columns": ["carrier"]}),
        "airports": dg.AssetIn(key=["ingestion", "airports"], metadata={"columns": ["faa"]}),
    },
    check_specs=[
        contract_spec(CLEAN),
        contract_spec(QUARANTINE),
        drift_spec(CLEAN, DEP_DELAY_DRIFT),
        known_destinations_spec(CLEAN),
    ],
    **DAILY,
)
def flights_clean(
    context: dg.AssetExecutionContext,
    raw_flights: pl.LazyFrame,
    airlines: pl.DataFrame,
    airports: pl.DataFrame,
    duckdb: DuckDBResource,
):
    """Split the delivered flights into clean rows and quarantined rows; gate them."""
    carriers, codes = set(airlines["carrier"]), set(airports["faa"])
    clean, quarantine = (
        frame.collect() for frame in cleansing.flights_clean(raw_flights, carriers, codes)
    )
    first, _last = window_dates(context.partition_time_window)
    history_window = (first - dt.timedelta(days=DEP_DELAY_DRIFT.days), first - dt.timedelta(days=1))
    with duckdb.get_connection() as conn:
        history = read_rows(
            conn,
            table_name(CLEAN),
            ["flight_date", DEP_DELAY_DRIFT.column],
            "flight_date",
            history_window,
            missing_ok=True,
        )
    counts = bin_counts(history, "flight_date", DEP_DELAY_DRIFT) | bin_counts(
        clean, "flight_date", DEP_DELAY_DRIFT
    )
    yield from publish(
        context,
        {CLEAN: clean, QUARANTINE: quarantine},
        gates=drift(CLEAN, DEP_DELAY_DRIFT, counts, context.partition_keys)
        + known_destinations(
            CLEAN, cleansing.unknown_destinations(clean, codes), context.partition_keys
        ),
    )
