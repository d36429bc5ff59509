"""Column lineage (lib/lineage.py) names real columns of real upstream assets, and is published."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from feature_assets.definitions import defs
from feature_assets.lib.lineage import LINEAGE, column_lineage
from feature_assets.lib.schemas import CONTRACTS, schema_of
from feature_assets_tests.conftest import ALL_ASSETS, Materialize, deliver

FEATURE_TABLES = {
    dg.AssetKey(["transformation", "flight_features"]),
    dg.AssetKey(["aggregation", "carrier_daily_stats"]),
    dg.AssetKey(["aggregation", "carrier_delay_7d"]),
    dg.AssetKey(["aggregation", "route_delay_28d"]),
    dg.AssetKey(["aggregation", "origin_weather_daily"]),
    dg.AssetKey(["training", "flight_delay_training_set"]),
}
UP_TO_FEATURES = dg.AssetSelection.groups("ingestion", "cleansing", "transformation")


def contract_columns(key: dg.AssetKey) -> set[str]:
    return set(schema_of(CONTRACTS[key]).columns)


def test_every_feature_table_states_the_lineage_of_every_contract_column() -> None:
    assert set(LINEAGE) == FEATURE_TABLES
    for key, columns in LINEAGE.items():
        assert set(columns) == contract_columns(key), key.to_user_string()


def test_every_dependency_is_a_contract_column_of_an_upstream_the_asset_reads() -> None:
    graph = defs.resolve_asset_graph()
    by_key = {key: assets_def for assets_def in ALL_ASSETS for key in assets_def.keys}
    for key, columns in LINEAGE.items():
        parents = graph.get(key).parent_keys
        # the columns each input reads, where the input names them (AssetIn metadata "columns")
        assets_def = by_key[key]
        read: dict[dg.AssetKey, set[str]] = {}
        for input_def in assets_def.node_def.input_defs:
            upstream = assets_def.keys_by_input_name[input_def.name]
            if "columns" in input_def.metadata:
                read[upstream] = set(input_def.metadata["columns"])
        for column, sources in columns.items():
            assert sources, (key.to_user_string(), column)
            for upstream, names in sources.items():
                where = f"{key.to_user_string()}.{column} <- {upstream.to_user_string()}"
                assert upstream in parents, where
                assert set(names) <= contract_columns(upstream), (where, names)
                assert set(names) <= read.get(upstream, set(names)), (where, names)
                assert len(set(names)) == len(names), (where, names)


def test_the_lineage_is_dagster_column_lineage() -> None:
    lineage = column_lineage(dg.AssetKey(["training", "flight_delay_training_set"]))
    deps = lineage["dagster/column_lineage"].deps_by_column
    assert {(d.asset_key.to_user_string(), d.column_name) for d in deps["temp"]} == {
        ("transformation/flight_features", "origin"),
        ("transformation/flight_features", "sched_dep_utc"),
        ("cleansing/weather_clean", "temp"),
        ("cleansing/weather_clean", "origin"),
        ("cleansing/weather_clean", "time_hour"),
    }
    assert column_lineage(dg.AssetKey(["ingestion", "raw_flights"])) == {}


def test_each_materialised_partition_carries_its_lineage_and_null_numbers(
    home: Path, materialize: Materialize, instance: dg.DagsterInstance
) -> None:
    day = dt.date(2013, 1, 1)
    deliver(home, day, 2)
    key = dg.AssetKey(["transformation", "flight_features"])
    materialize(day, day + dt.timedelta(days=1), selection=UP_TO_FEATURES)
    events = {
        record.partition_key: record.asset_materialization
        for record in instance.fetch_materializations(key, limit=10).records
    }
    assert set(events) == {"2013-01-01", "2013-01-02"}
    for event in events.values():
        assert event is not None
        metadata = event.metadata
        lineage = metadata["dagster/column_lineage"].value
        assert isinstance(lineage, dg.TableColumnLineage)
        assert set(lineage.deps_by_column) == contract_columns(key)
        # the null numbers are plain numbers (the UI plots them across partitions), and agree
        # with the per-column counts and the day's real flights
        nulls = metadata["null_counts"].value
        assert isinstance(nulls, dict)
        rows = metadata["dagster/row_count"].value
        assert isinstance(rows, int)
        cells = sum(int(n) for n in nulls.values())  # pyright: ignore[reportArgumentType]
        assert isinstance(metadata["null_cells"], dg.IntMetadataValue)
        assert isinstance(metadata["null_fraction"], dg.FloatMetadataValue)
        assert metadata["null_cells"].value == cells > 0  # real days have cancelled flights
        assert metadata["null_fraction"].value == pytest.approx(
            cells / (rows * len(contract_columns(key))), abs=1e-6
        )
        # the open-source UI shows each column's sources in its description
        schema = metadata["dagster/column_schema"].value
        assert isinstance(schema, dg.TableSchema)
        described = {column.name: column.description for column in schema.columns}
        assert described["temp"] == (
            "from flights_clean (origin, sched_dep_utc); weather_clean (temp, origin, time_hour)"
        )
        assert described["dep_delayed_15"] == "from flights_clean (cancelled, dep_delay)"
    # the real 2013-01-01: 842 flights, 4 of them cancelled (a null label)
    first = events["2013-01-01"]
    assert first is not None
    assert first.metadata["dagster/row_count"].value == 842
    assert first.metadata["null_counts"].value["dep_delayed_15"] == 4  # pyright: ignore
