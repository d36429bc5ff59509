"""Point-in-time training sets: what a delay model trains on, with nothing from the future."""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import DAILY, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.gates import leakage, leakage_spec
from feature_assets.lib.transforms import training

KEY = dg.AssetKey(["training", "flight_delay_training_set"])


def _days_before(first: int, last: int) -> dg.TimeWindowPartitionMapping:
    """Day D reads the upstream days D+first..D+last (offsets <= 0)."""
    return dg.TimeWindowPartitionMapping(
        start_offset=first, end_offset=last, allow_nonexistent_upstream_partitions=True
    )


AGGREGATE_DAYS = _days_before(-3, -1)
"""A day's aggregate is known from the day's end and lives 3 days: day D reads D-3..D-1."""


@dg.asset(
    key=KEY,
    check_specs=[contract_spec(KEY), leakage_spec(KEY)],
    output_required=False,
    ins={
        "labels": dg.AssetIn(key=["transformation", "flight_features"]),
        # a flight at 05:00 is predicted at 03:00: the weather hours before it may be yesterday's
        "weather": dg.AssetIn(
            key=["cleansing", "weather_clean"], partition_mapping=_days_before(-1, 0)
        ),
        "carrier_7d": dg.AssetIn(
            key=["aggregation", "carrier_delay_7d"], partition_mapping=AGGREGATE_DAYS
        ),
        "route_28d": dg.AssetIn(
            key=["aggregation", "route_delay_28d"], partition_mapping=AGGREGATE_DAYS
        ),
    },
    code_version="1",
    metadata=partitioned_by("flight_date"),
    **DAILY,  # built on request (UI, job, `feature-assets training-set`), not by automation
)
def flight_delay_training_set(
    context: dg.AssetExecutionContext,
    labels: pl.LazyFrame,
    weather: pl.LazyFrame,
    carrier_7d: pl.LazyFrame,
    route_28d: pl.LazyFrame,
):
    """One row per flight (flight_id) with the features known 2 h before its scheduled departure.

    Schedule features (carrier, route, distance, hour, weekday, plane age); the origin's latest
    weather hour that had ended (3 h time-to-live); the carrier's 7-day and the route's 28-day
    delays of the last day that had ended (3 days time-to-live); each group with the instant it
    became known; and the label dep_delayed_15. Blocked when any feature was not known in time.
    """
    rows = training.training_set(labels, weather, carrier_7d, route_28d).collect()
    gates = leakage(KEY, training.leaks(rows), rows, context.partition_keys)
    yield from publish(context, {KEY: rows}, gates=gates)
