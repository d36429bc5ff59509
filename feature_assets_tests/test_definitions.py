"""The whole code location loads and keeps the design's promises about its graph."""

import dagster as dg

from feature_assets.definitions import defs
from feature_assets.lib.assets import FEATURE_CONDITION
from feature_assets.lib.partitions import daily_partitions
from feature_assets.lib.warehouse import DUCKDB_POOL, PARTITION_EXPR
from feature_assets_tests.conftest import ALL_ASSETS, PUBLIC_TABLES, SNAPSHOTS


def specs() -> list[dg.AssetSpec]:
    return list(defs.resolve_all_asset_specs())


def test_the_code_location_loads() -> None:
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("main") is not None


def test_four_tiers_hold_the_public_tables() -> None:
    found: dict[str, set[str]] = {}
    for spec in specs():
        tier, name = spec.key.path
        found.setdefault(tier, set()).add(name)
    assert found == PUBLIC_TABLES


def test_every_asset_is_described_owned_versioned_and_grouped_by_its_tier() -> None:
    for spec in specs():
        tier = spec.key.path[0]
        assert spec.group_name == tier, spec.key
        assert spec.tags["tier"] == tier, spec.key
        assert spec.owners, spec.key
        assert spec.description and spec.description.startswith("One row per"), spec.key
        assert spec.code_version, spec.key
        assert {"duckdb", "polars"} <= spec.kinds, spec.key


def test_every_fact_table_shares_the_daily_partitions_and_names_its_date_column() -> None:
    for spec in specs():
        if spec.key.path[1] in SNAPSHOTS:
            assert spec.partitions_def is None
        else:
            assert spec.partitions_def == daily_partitions, spec.key
            assert spec.metadata[PARTITION_EXPR], spec.key


def test_rolling_features_read_their_window_through_a_time_window_mapping() -> None:
    deps = {
        spec.key.path[1]: {
            dep.asset_key.to_user_string(): dep.partition_mapping for dep in spec.deps
        }
        for spec in specs()
    }
    for name, days in (("carrier_delay_7d", 7), ("route_delay_28d", 28)):
        mapping = deps[name]["cleansing/flights_clean"]
        assert isinstance(mapping, dg.TimeWindowPartitionMapping)
        assert (mapping.start_offset, mapping.end_offset) == (-(days - 1), 0)


def test_every_dependency_is_produced_by_an_asset() -> None:
    keys = {spec.key for spec in specs()}
    for spec in specs():
        for dep in spec.deps:
            assert dep.asset_key in keys, f"{spec.key} reads {dep.asset_key}, which nothing makes"


def test_every_step_is_in_the_duckdb_pool_and_backfills_run_as_one_run() -> None:
    for asset in ALL_ASSETS:
        assert asset.op.pool == DUCKDB_POOL, asset.keys
        if asset.partitions_def is not None:
            assert asset.backfill_policy == dg.BackfillPolicy.single_run(), asset.keys


def test_features_are_automated_ingestion_is_sensed_and_every_sensor_runs_by_default() -> None:
    for spec in specs():
        if spec.key.path[0] in ("ingestion", "training"):  # sensed; built on request
            assert spec.automation_condition is None, spec.key
        else:
            assert spec.automation_condition == FEATURE_CONDITION, spec.key
    sensors = {sensor.name: sensor for sensor in defs.sensors or []}
    assert set(sensors) == {
        "landing_zone",
        "feature_automation",
        "feature_definitions",
        "incidents",
    }
    for sensor in sensors.values():
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, sensor.name
    assert isinstance(sensors["feature_automation"], dg.AutomationConditionSensorDefinition)
