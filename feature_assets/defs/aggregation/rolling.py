"""Trailing-window aggregates over the daily partitions of flights_clean.

Day D reads the partitions D-(n-1)..D through a ``TimeWindowPartitionMapping``.
"""

import dagster as dg
import polars as pl

from feature_assets.lib.assets import FEATURE, partitioned_by
from feature_assets.lib.checks import contract_spec, publish
from feature_assets.lib.partitions import trailing_days, window_dates
from feature_assets.lib.transforms import aggregation

FLIGHT_COLUMNS = ["flight_date", "carrier", "origin", "dest", "cancelled", "dep_delay", "arr_delay"]


def _flights_over(days: int) -> dict[str, dg.AssetIn]:
    return {
        "flights": dg.AssetIn(
            key=["cleansing", "flights_clean"],
            partition_mapping=trailing_days(days),
            metadata={"columns": FLIGHT_COLUMNS},
        )
    }


CARRIER_DELAY_7D = dg.AssetKey(["aggregation", "carrier_delay_7d"])
ROUTE_DELAY_28D = dg.AssetKey(["aggregation", "route_delay_28d"])


@dg.asset(
    key=CARRIER_DELAY_7D,
    check_specs=[contract_spec(CARRIER_DELAY_7D)],
    output_required=False,
    ins=_flights_over(7),
    code_version="1",
    metadata=partitioned_by("flight_date"),
    **FEATURE,
)
def carrier_delay_7d(context: dg.AssetExecutionContext, flights: pl.LazyFrame):
    """One row per local day D and carrier: departure delay over the trailing 7 days.

    mean_dep_delay_7d is the flight-weighted mean dep_delay of departed flights over D-6..D;
    n_flights_7d is the number of those flights.
    """
    first, last = window_dates(context.partition_time_window)
    window = aggregation.carrier_delay_7d(flights, first, last).collect()
    yield from publish(context, {CARRIER_DELAY_7D: window})


@dg.asset(
    key=ROUTE_DELAY_28D,
    check_specs=[contract_spec(ROUTE_DELAY_28D)],
    output_required=False,
    ins=_flights_over(28),
    code_version="1",
    metadata=partitioned_by("flight_date"),
    **FEATURE,
)
def route_delay_28d(context: dg.AssetExecutionContext, flights: pl.LazyFrame):
    """One row per local day D and route (origin, dest): arrival delay over 28 days.

    mean_arr_delay_28d is the mean arr_delay over D-27..D of the flights with a known arr_delay;
    n_flights_28d is the number of those flights.
    """
    first, last = window_dates(context.partition_time_window)
    window = aggregation.route_delay_28d(flights, first, last).collect()
    yield from publish(context, {ROUTE_DELAY_28D: window})
