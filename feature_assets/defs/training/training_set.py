"""Point-in-time training sets: what a delay model trains on, with nothing from the future."""

import datetime as dt

import dagster as dg
import polars as pl
from pydantic import Field

from feature_assets.lib.assets import DAILY, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.features import TRAINING_INPUTS
from feature_assets.lib.gates import leakage, leakage_spec
from feature_assets.lib.transforms import training

KEY = dg.AssetKey(["training", "flight_delay_training_set"])


class TrainingSetConfig(dg.Config):
    """How far ahead the model predicts: the lead time before scheduled departure."""

    lead_hours: float = Field(
        default=training.LEAD.total_seconds() / 3600,
        ge=0,
        le=20,  # the weather of the day before is read, not older
        description="predict this many hours before the scheduled departure",
    )


@dg.asset(
    key=KEY,
    check_specs=[contract_spec(KEY), leakage_spec(KEY)],
    output_required=False,
    ins={i.name: dg.AssetIn(key=i.key, partition_mapping=i.mapping()) for i in TRAINING_INPUTS},
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
    config: TrainingSetConfig,
):
    """One row per flight (flight_id) with the features known 2 h before its scheduled departure.

    Schedule features (carrier, route, distance, hour, weekday, plane age); the origin's latest
    weather hour that had ended (3 h time-to-live); the carrier's 7-day and the route's 28-day
    delays of the last day that had ended (3 days time-to-live); each group with the instant it
    became known; and the label dep_delayed_15. Blocked when any feature was not known in time.
    """
    lead = dt.timedelta(hours=config.lead_hours)
    rows = training.training_set(labels, weather, carrier_7d, route_28d, lead).collect()
    gates = leakage(KEY, training.leaks(rows), rows, context.partition_keys)
    yield from publish(context, {KEY: rows}, gates=gates)
