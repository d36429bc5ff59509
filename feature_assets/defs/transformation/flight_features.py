"""Per-flight features: schedule, route, plane age, the origin's weather, and the label."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import FEATURE, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.gates import weather_coverage, weather_coverage_spec
from feature_assets.lib.transforms import transformation

KEY = dg.AssetKey(["transformation", "flight_features"])


@dg.asset(
    key=KEY,
    check_specs=[contract_spec(KEY), weather_coverage_spec(KEY)],
    output_required=False,
    ins={
        "flights": dg.AssetIn(key=["cleansing", "flights_clean"]),
        "weather": dg.AssetIn(key=["cleansing", "weather_clean"]),
        "planes": dg.AssetIn(
            key=["ingestion", "planes"], metadata={"columns": ["tailnum", "year"]}
        ),
    },
    code_version="1",
    metadata=partitioned_by("flight_date"),
    **FEATURE,
)
def flight_features(
    context: dg.AssetExecutionContext,
    flights: pl.LazyFrame,
    weather: pl.LazyFrame,
    planes: pl.LazyFrame,
):
    """One row per flight (flight_id): the features a delay model trains on, and its label.

    Carrier, route, distance, local departure hour, day of week, plane age, the origin's weather
    at the scheduled UTC hour, and dep_delayed_15.
    """
    features = transformation.flight_features(flights, weather, planes).collect()
    coverage = weather_coverage(KEY, features, context.partition_keys)
    yield from publish(context, {KEY: features}, gates=coverage)
