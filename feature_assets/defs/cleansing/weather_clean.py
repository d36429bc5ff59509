"""Cleansing of weather: one row per origin and UTC hour; bad rows quarantined."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import DAILY, FEATURE_CONDITION, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.transforms import cleansing

CLEAN = dg.AssetKey(["cleansing", "weather_clean"])
QUARANTINE = dg.AssetKey(["cleansing", "weather_quarantine"])


@dg.multi_asset(
    outs={
        "weather_clean": dg.AssetOut(
            key_prefix="cleansing",
            description=(
                "One row per origin airport and UTC hour (time_hour) with its local day "
                "(obs_date): temperature, wind, precipitation, visibility."
            ),
            code_version="1",
            is_required=False,
            automation_condition=FEATURE_CONDITION,
            metadata=partitioned_by("obs_date"),
        ),
        "weather_quarantine": dg.AssetOut(
            key_prefix="cleansing",
            description=(
                "One row per delivered weather row that broke a cleansing rule: the rules, their "
                "columns, and the original values as JSON, by landing_date."
            ),
            code_version="1",
            is_required=False,
            automation_condition=FEATURE_CONDITION,
            metadata=partitioned_by("landing_date"),
        ),
    },
    ins={"raw_weather": dg.AssetIn(key_prefix="ingestion")},
    check_specs=[contract_spec(CLEAN), contract_spec(QUARANTINE)],
    **DAILY,
)
def weather_clean(context: dg.AssetExecutionContext, raw_weather: pl.LazyFrame):
    """Split the delivered weather observations into clean rows and quarantined rows."""
    clean, quarantine = cleansing.weather_clean(raw_weather)
    yield from publish(context, {CLEAN: clean.collect(), QUARANTINE: quarantine.collect()})
