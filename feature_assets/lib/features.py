"""The feature catalog: which tables hold features, their entities, and when a row is usable.

Stated once here; each column's name, type and description come from the table's contract
(``lib/schemas``), its owners and upstream assets from the asset's definition. The registry
writes the catalog into ``registry.features`` whenever a feature table is published, and the
training sets take each group's time-to-live from here.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
import polars as pl

from feature_assets.lib.schemas import CONTRACTS, schema_of


@dataclass(frozen=True)
class FeatureTable:
    """A table of features keyed by ``entity``, dated by ``event_time``.

    ``available`` says in words when a row becomes usable; ``ttl`` is how long it stays usable
    (None: it belongs to its one event). ``labels`` are columns that are targets, not features.
    """

    key: dg.AssetKey
    entity: tuple[str, ...]
    event_time: str
    available: str
    ttl: dt.timedelta | None
    labels: tuple[str, ...] = ()
    not_features: tuple[str, ...] = ()

    def features(self) -> list[str]:
        """The contract's columns that are features (not keys, times or labels)."""
        skip = {*self.entity, self.event_time, *self.labels, *self.not_features}
        return [c for c in schema_of(CONTRACTS[self.key]).columns if c not in skip]


def _k(name: str) -> dg.AssetKey:
    return dg.AssetKey.from_user_string(name)


HOURLY_WEATHER = FeatureTable(
    _k("cleansing/weather_clean"),
    entity=("origin",),
    event_time="time_hour",
    available="at the end of its UTC hour",
    ttl=dt.timedelta(hours=3),
    not_features=("obs_date",),
)
FLIGHT_FEATURES = FeatureTable(
    _k("transformation/flight_features"),
    entity=("flight_id",),
    event_time="sched_dep_utc",
    available="schedule and plane columns in advance; weather an hour after departure",
    ttl=None,
    labels=("dep_delayed_15",),
    not_features=("flight_date",),
)
CARRIER_DAILY_STATS = FeatureTable(
    _k("aggregation/carrier_daily_stats"),
    entity=("carrier",),
    event_time="flight_date",
    available="at the end of its local day",
    ttl=dt.timedelta(days=1),
)
CARRIER_DELAY_7D = FeatureTable(
    _k("aggregation/carrier_delay_7d"),
    entity=("carrier",),
    event_time="flight_date",
    available="at the end of its local day",
    ttl=dt.timedelta(days=3),
)
ROUTE_DELAY_28D = FeatureTable(
    _k("aggregation/route_delay_28d"),
    entity=("origin", "dest"),
    event_time="flight_date",
    available="at the end of its local day",
    ttl=dt.timedelta(days=3),
)
ORIGIN_WEATHER_DAILY = FeatureTable(
    _k("aggregation/origin_weather_daily"),
    entity=("origin",),
    event_time="date",
    available="at the end of its local day",
    ttl=dt.timedelta(days=1),
)
FEATURE_TABLES: dict[dg.AssetKey, FeatureTable] = {
    t.key: t
    for t in (
        HOURLY_WEATHER,
        FLIGHT_FEATURES,
        CARRIER_DAILY_STATS,
        CARRIER_DELAY_7D,
        ROUTE_DELAY_28D,
        ORIGIN_WEATHER_DAILY,
    )
}

CATALOG_SCHEMA = {
    "name": pl.String,
    "asset": pl.String,
    "role": pl.String,
    "dtype": pl.String,
    "description": pl.String,
    "owners": pl.String,
    "entity": pl.String,
    "event_time": pl.String,
    "available": pl.String,
    "ttl_seconds": pl.Int64,
    "upstream": pl.String,
    "code_version": pl.String,
}


def catalog_rows(
    table: FeatureTable, owners: Iterable[str], upstream: Iterable[dg.AssetKey], code_version: str
) -> pl.DataFrame:
    """The catalog's rows for one feature table: one per feature and label column."""
    columns = schema_of(CONTRACTS[table.key]).columns
    rows = [
        {
            "name": name,
            "asset": table.key.to_user_string(),
            "role": "label" if name in table.labels else "feature",
            "dtype": str(columns[name].dtype),
            "description": columns[name].description or "",
            "owners": ", ".join(owners),
            "entity": ", ".join(table.entity),
            "event_time": table.event_time,
            "available": table.available,
            "ttl_seconds": int(table.ttl.total_seconds()) if table.ttl else None,
            "upstream": ", ".join(sorted(k.to_user_string() for k in upstream)),
            "code_version": code_version,
        }
        for name in [*table.features(), *table.labels]
    ]
    return pl.DataFrame(rows, schema=CATALOG_SCHEMA)


@dataclass(frozen=True)
class TrainingInput:
    """A table the training set of day D reads: its days D+first_offset..D+last_offset."""

    name: str
    key: dg.AssetKey
    partition_column: str
    first_offset: int
    last_offset: int

    def mapping(self) -> dg.TimeWindowPartitionMapping:
        """The partition mapping from a training day to the days it reads."""
        return dg.TimeWindowPartitionMapping(
            start_offset=self.first_offset,
            end_offset=self.last_offset,
            allow_nonexistent_upstream_partitions=True,
        )

    def dates(self, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
        """The days read for the training days first..last."""
        return (
            first + dt.timedelta(days=self.first_offset),
            last + dt.timedelta(days=self.last_offset),
        )


TRAINING_INPUTS = (
    TrainingInput("labels", FLIGHT_FEATURES.key, "flight_date", 0, 0),
    # a flight at 05:00 is predicted at 03:00: the weather hours before it may be yesterday's
    TrainingInput("weather", HOURLY_WEATHER.key, "obs_date", -1, 0),
    # a day's aggregate is known from the day's end and lives 3 days: day D reads D-3..D-1
    TrainingInput("carrier_7d", CARRIER_DELAY_7D.key, "flight_date", -3, -1),
    TrainingInput("route_28d", ROUTE_DELAY_28D.key, "flight_date", -3, -1),
)
"""What a point-in-time training set reads (the asset and ``lib/store.py`` alike)."""
