"""Column lineage of the feature tables: which upstream columns each column is computed from.

Stated once per asset, beside the transforms it describes (``lib/transforms/``), and attached to
every materialisation as ``dagster/column_lineage`` by the warehouse IO manager, so that the UI
links each column of the asset to its sources. A column depends on the upstream columns its
value is computed from, the ones that filter the rows it counts or averages, and, for a joined
column, the keys and times that pick the joined row (origin and UTC hour, the as-of time, the
day of a window). The keys a table is grouped by are the lineage of its key columns.
``feature_assets_tests/test_lineage.py`` checks every name against the contracts
(``lib/schemas``), the asset graph and the columns each asset reads.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

FLIGHTS_CLEAN = dg.AssetKey(["cleansing", "flights_clean"])
WEATHER_CLEAN = dg.AssetKey(["cleansing", "weather_clean"])
PLANES = dg.AssetKey(["ingestion", "planes"])
FLIGHT_FEATURES = dg.AssetKey(["transformation", "flight_features"])
CARRIER_DAILY_STATS = dg.AssetKey(["aggregation", "carrier_daily_stats"])
CARRIER_DELAY_7D = dg.AssetKey(["aggregation", "carrier_delay_7d"])
ROUTE_DELAY_28D = dg.AssetKey(["aggregation", "route_delay_28d"])
ORIGIN_WEATHER_DAILY = dg.AssetKey(["aggregation", "origin_weather_daily"])
TRAINING_SET = dg.AssetKey(["training", "flight_delay_training_set"])

Sources = Mapping[dg.AssetKey, Sequence[str]]
"""The upstream columns one column is computed from, by upstream asset."""

WEATHER = ("temp", "wind_speed", "precip", "visib")
FLIGHT_KEYS = ("flight_id", "flight_date", "sched_dep_utc", "carrier", "origin", "dest")
SCHEDULE = ("distance", "dep_hour", "day_of_week", "plane_age_years", "dep_delayed_15")
DEPARTED = ("cancelled", "dep_delay")
"""What ``aggregation.departed`` filters on: flights that left, with a known delay."""


def same(upstream: dg.AssetKey, *columns: str) -> dict[str, Sources]:
    """Columns copied from the same-named columns of ``upstream``."""
    return {column: {upstream: [column]} for column in columns}


@dataclass(frozen=True)
class Join:
    """A left join: the ``left`` columns and ``right``'s ``on`` columns pick the joined row."""

    left: dg.AssetKey
    left_on: tuple[str, ...]
    right: dg.AssetKey
    right_on: tuple[str, ...]

    def columns(self, *names: str) -> dict[str, Sources]:
        """``right``'s columns ``names``, brought in by the join."""
        return {
            name: {self.left: list(self.left_on), self.right: [name, *self.right_on]}
            for name in names
        }

    def keys(self) -> Sources:
        """What a column about the joined row itself (when it became known) depends on."""
        return {self.left: list(self.left_on), self.right: list(self.right_on)}


HOUR_WEATHER = Join(
    FLIGHTS_CLEAN, ("origin", "sched_dep_utc"), WEATHER_CLEAN, ("origin", "time_hour")
)
"""flight_features: the origin's observation of the scheduled departure's UTC hour."""
# The training set joins each group as of the prediction time (scheduled departure - lead).
KNOWN_WEATHER = Join(
    FLIGHT_FEATURES, ("origin", "sched_dep_utc"), WEATHER_CLEAN, ("origin", "time_hour")
)
KNOWN_CARRIER_7D = Join(
    FLIGHT_FEATURES, ("carrier", "sched_dep_utc"), CARRIER_DELAY_7D, ("carrier", "flight_date")
)
KNOWN_ROUTE_28D = Join(
    FLIGHT_FEATURES,
    ("origin", "dest", "sched_dep_utc"),
    ROUTE_DELAY_28D,
    ("origin", "dest", "flight_date"),
)

LINEAGE: dict[dg.AssetKey, dict[str, Sources]] = {
    FLIGHT_FEATURES: {
        **same(FLIGHTS_CLEAN, *FLIGHT_KEYS, "distance"),
        "dep_hour": {FLIGHTS_CLEAN: ["sched_dep_utc"]},
        "day_of_week": {FLIGHTS_CLEAN: ["flight_date"]},
        "plane_age_years": {FLIGHTS_CLEAN: ["flight_date", "tailnum"], PLANES: ["year", "tailnum"]},
        **HOUR_WEATHER.columns(*WEATHER),
        "dep_delayed_15": {FLIGHTS_CLEAN: list(DEPARTED)},
    },
    CARRIER_DAILY_STATS: {
        **same(FLIGHTS_CLEAN, "flight_date", "carrier"),
        "n_flights": {FLIGHTS_CLEAN: ["flight_date", "carrier"]},  # rows counted per key
        "n_cancelled": {FLIGHTS_CLEAN: ["cancelled"]},
        "mean_dep_delay": {FLIGHTS_CLEAN: list(DEPARTED)},
        "pct_delayed_15": {FLIGHTS_CLEAN: list(DEPARTED)},
    },
    CARRIER_DELAY_7D: {
        **same(FLIGHTS_CLEAN, "flight_date", "carrier"),
        "mean_dep_delay_7d": {FLIGHTS_CLEAN: [*DEPARTED, "flight_date"]},
        "n_flights_7d": {FLIGHTS_CLEAN: [*DEPARTED, "flight_date"]},
    },
    ROUTE_DELAY_28D: {
        **same(FLIGHTS_CLEAN, "flight_date", "origin", "dest"),
        "mean_arr_delay_28d": {FLIGHTS_CLEAN: ["arr_delay", "flight_date"]},
        "n_flights_28d": {FLIGHTS_CLEAN: ["arr_delay", "flight_date"]},
    },
    ORIGIN_WEATHER_DAILY: {
        "date": {WEATHER_CLEAN: ["obs_date"]},
        "origin": {WEATHER_CLEAN: ["origin"]},
        "mean_temp": {WEATHER_CLEAN: ["temp"]},
        "max_wind_speed": {WEATHER_CLEAN: ["wind_speed"]},
        "total_precip": {WEATHER_CLEAN: ["precip"]},
        "min_visib": {WEATHER_CLEAN: ["visib"]},
        "hours_observed": {WEATHER_CLEAN: ["time_hour"]},  # hours counted per key
    },
    TRAINING_SET: {
        **same(FLIGHT_FEATURES, *FLIGHT_KEYS, *SCHEDULE),
        "prediction_time": {FLIGHT_FEATURES: ["sched_dep_utc"]},
        **KNOWN_WEATHER.columns(*WEATHER),
        "weather_available_at": KNOWN_WEATHER.keys(),
        **KNOWN_CARRIER_7D.columns("mean_dep_delay_7d", "n_flights_7d"),
        "carrier_7d_available_at": KNOWN_CARRIER_7D.keys(),
        **KNOWN_ROUTE_28D.columns("mean_arr_delay_28d", "n_flights_28d"),
        "route_28d_available_at": KNOWN_ROUTE_28D.keys(),
    },
}
"""Per asset, per column, the upstream columns it is computed from."""


def column_lineage(key: dg.AssetKey) -> dict[str, dg.TableColumnLineage]:
    """``{"dagster/column_lineage": ...}`` for an asset with stated lineage, else nothing."""
    if key not in LINEAGE:
        return {}
    return {
        "dagster/column_lineage": dg.TableColumnLineage(
            deps_by_column={
                column: [
                    dg.TableColumnDep(asset_key=upstream, column_name=name)
                    for upstream, names in sources.items()
                    for name in names
                ]
                for column, sources in LINEAGE[key].items()
            }
        )
    }


def sources_text(key: dg.AssetKey, column: str) -> str:
    """A column's lineage in words: ``from flights_clean (cancelled, dep_delay)``."""
    sources = LINEAGE[key][column]
    return "from " + "; ".join(
        f"{upstream.path[-1]} ({', '.join(names)})" for upstream, names in sources.items()
    )


def with_sources(schema: dg.TableSchema, key: dg.AssetKey) -> dg.TableSchema:
    """``schema`` with each column's lineage added to its description.

    The open-source UI does not draw ``dagster/column_lineage`` (its column graph is a Dagster+
    view), but it shows column descriptions in the asset's Columns table.
    """
    if key not in LINEAGE:
        return schema
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                column.name,
                column.type,
                description="; ".join(
                    filter(None, [column.description, sources_text(key, column.name)])
                )
                if column.name in LINEAGE[key]
                else column.description,
                constraints=column.constraints,
                tags=column.tags,
            )
            for column in schema.columns
        ],
        constraints=schema.constraints,
    )
