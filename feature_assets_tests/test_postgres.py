"""Past one machine: the same code on Postgres instance storage, with the README's settings.

A throwaway PostgreSQL server is started on 127.0.0.1 (skipped where no server binaries are
installed); the instance is the repository's dagster.yaml with the storage block the README's
"Scale-out" section gives, its credentials from environment variables. Real days run through
Dagster on it, and the runs, events, checks, pools and automation live in Postgres.
"""

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from feature_assets.definitions import defs
from feature_assets.lib.demo import range_tags
from feature_assets.lib.resources import build_resources
from feature_assets.lib.warehouse import DUCKDB_POOL
from feature_assets_tests.conftest import ALL_ASSETS, deliver
from feature_assets_tests.dev_server import REPO, free_port

psycopg2 = pytest.importorskip("psycopg2")

SERVER_BIN = [Path("/usr/lib/postgresql/15/bin"), *map(Path, os.get_exec_path())]


def binary(name: str) -> Path | None:
    return next((d / name for d in SERVER_BIN if (d / name).exists()), None)


def readme_storage() -> dict:
    """The YAML block of the README's "Scale-out" section."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Scale-out") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "the README's Scale-out section has a yaml block"
    return yaml.safe_load(block.group(1))


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    """A PostgreSQL 15 server on a free port of 127.0.0.1, as the ``postgres`` user when root."""
    initdb, server = binary("initdb"), binary("postgres")
    if initdb is None or server is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql) on this machine")
    root = Path(tempfile.mkdtemp(prefix="feature-assets-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(root, user)
    data, port = root / "data", free_port()
    subprocess.run(
        [str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        user=user,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [str(server), "-D", str(data), "-p", str(port), "-k", str(root)]
        + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        conn.cursor().execute("create database dagster")
        conn.close()
        yield {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(port),
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": "dagster",
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_the_same_code_runs_on_postgres_instance_storage(
    postgres: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    for section in ("storage", "local_artifact_storage", "compute_logs"):
        config.pop(section, None)
    config |= readme_storage()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name, value in postgres.items():  # the credentials only from the environment
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    first, last = dt.date(2013, 1, 1), dt.date(2013, 1, 2)
    deliver(home, first, 2)

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        selection = [
            k for a in ALL_ASSETS for k in a.keys if k.path[0] in ("ingestion", "cleansing")
        ]
        result = dg.materialize(
            ALL_ASSETS,
            selection=selection,
            resources=build_resources(home),
            instance=instance,
            tags=range_tags(first, last),
        )
        assert result.success
        # the pool that serialises DuckDB's one writer holds on Postgres too (dagster.yaml)
        assert instance.event_log_storage.get_concurrency_info(DUCKDB_POOL).slot_count == 1
        # automation evaluates against the same storage: nothing is due for these days' features
        # but their transformation and aggregation (never materialised), which are missing
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        requested = {
            r.key.to_user_string()
            for r in evaluation.results
            if r.true_subset.size and isinstance(r.key, dg.AssetKey)
        }
        assert not requested & {k.to_user_string() for k in selection}

    conn = psycopg2.connect(
        host="127.0.0.1", port=int(postgres["DAGSTER_PG_PORT"]), user="postgres", dbname="dagster"
    )
    with conn, conn.cursor() as cursor:
        cursor.execute("select run_id, status from runs")
        assert cursor.fetchall() == [(result.run_id, "SUCCESS")]
        cursor.execute(
            "select count(*) from event_logs where run_id = %s "
            "and dagster_event_type = 'ASSET_MATERIALIZATION'",
            [result.run_id],
        )
        daily = [k for k in selection if k.path[1] not in ("airlines", "airports", "planes")]
        assert cursor.fetchone() == (2 * len(daily) + 3,)  # two days each, three snapshots
        cursor.execute(
            "select count(*) from asset_check_executions where run_id = %s "
            "and execution_status = 'SUCCEEDED'",
            [result.run_id],
        )
        (passed,) = cursor.fetchone() or (0,)
        assert passed > 2 * len(daily)
    conn.close()
