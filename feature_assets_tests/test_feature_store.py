"""The feature store: the registry of versions, kept rows and rollback, signed training-set
manifests rebuilt exactly, the hash-chained audit log, and the Python API for ML code.

Five real days (2013-01-01..05) are published once through every tier; each test starts from a
copy of that data directory and instance.
"""

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.event_api import AssetRecordsFilter
from dagster._core.instance.ref import InstanceRef
from polars.testing import assert_frame_equal

from feature_assets import cli
from feature_assets.definitions import defs
from feature_assets.defs.feature_store import feature_definitions, incidents
from feature_assets.lib import audit, manifest, nycflights, registry, settings, store
from feature_assets.lib.demo import range_tags
from feature_assets.lib.landing import daily_file
from feature_assets.lib.resources import build_resources
from feature_assets_tests.conftest import ALL_ASSETS, deliver, read_table, with_code_version

pytestmark = pytest.mark.xdist_group(
    "feature_store"
)  # its tests share a module fixture: one worker

FIRST, LAST = dt.date(2013, 1, 1), dt.date(2013, 1, 5)
KEY = "0123456789abcdef0123456789abcdef"
CLEAN = "cleansing/flights_clean"
CLEANSING = [
    dg.AssetKey(["cleansing", "flights_clean"]),
    dg.AssetKey(["cleansing", "flights_quarantine"]),
]
TRAINING = dg.AssetKey(["training", "flight_delay_training_set"])
RECOMPUTED = [
    *CLEANSING,
    dg.AssetKey(["transformation", "flight_features"]),
    dg.AssetKey(["aggregation", "carrier_daily_stats"]),
    dg.AssetKey(["aggregation", "carrier_delay_7d"]),
    dg.AssetKey(["aggregation", "route_delay_28d"]),
]
"""What reads the flights of a day, below ingestion (the training set is built on request)."""


@dataclass
class Home:
    """A data directory and its Dagster instance."""

    path: Path
    instance: dg.DagsterInstance

    def run(self, first: dt.date, last: dt.date, selection=None) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            ALL_ASSETS,
            selection=selection,
            resources=build_resources(self.path),
            instance=self.instance,
            tags=range_tags(first, last),
        )

    def sql(self, query: str, params: list | None = None) -> pl.DataFrame:
        path = settings.warehouse_path(self.path)
        with duckdb.connect(str(path), read_only=True) as conn:
            return conn.sql(query, params=params).pl()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five real days published through every tier (one run), in a data directory + instance."""
    root = tmp_path_factory.mktemp("store")
    (root / "dagster").mkdir()
    deliver(root / "home", FIRST, 5)
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        Home(root / "home", instance).run(FIRST, LAST)
    return root


@pytest.fixture
def home(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    shutil.copytree(published / "home", tmp_path / "home")
    shutil.copytree(published / "dagster", tmp_path / "dagster")
    monkeypatch.setenv(settings.HOME_ENV_VAR, str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # for the CLI
    monkeypatch.setenv(settings.SIGNING_KEY_ENV_VAR, KEY)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "dagster"))) as instance:
        yield Home(tmp_path / "home", instance)


def change_first_delay(home: Home, day: dt.date, minutes: int) -> None:
    """The producer re-delivers ``day`` with the first flight's departure delay changed."""
    path = daily_file(settings.landing_dir(home.path), "flights", day)
    header, first, *rest = path.read_bytes().split(b"\n")
    fields = first.split(b",")
    fields[5] = str(minutes).encode()
    path.write_bytes(b"\n".join([header, b",".join(fields), *rest]))


def day_rows(home: Home, table: str, column: str, day: dt.date, order: str) -> pl.DataFrame:
    return home.sql(f"select * from {table} where {column} = ? order by {order}", [day])


def version_rows(home: Home, asset: str, partition: str) -> list[dict]:
    return home.sql(
        "select * from registry.versions where asset = ? and partition = ? order by version",
        [asset, partition],
    ).to_dicts()


@pytest.mark.parametrize("digest", [registry.data_version, registry.content_hash])
def test_row_hashes_ignore_the_order_of_rows_and_columns_not_the_values(digest) -> None:
    frame = pl.DataFrame({"a": [1, 2, 3, 3], "b": ["x", None, "z", "z"], "c": [0.1, 0.2, 0.3, 0.3]})
    same = frame.reverse().select("c", "a", "b")
    assert digest(same) == digest(frame)
    # the same numbers summed in another order differ in the last bits only: the same version
    assert digest(frame.with_columns(pl.col("c") + 1e-16)) == digest(frame)
    assert digest(frame.with_columns(pl.col("a") * 2)) != digest(frame)
    assert digest(frame.cast({"a": pl.Int32})) != digest(frame)
    assert digest(frame.head(3)) != digest(frame)  # a duplicate row counts
    assert digest(frame.head(0)) != digest(frame.head(0).drop("c"))  # empty: the schema counts
    utc = pl.DataFrame({"t": [dt.datetime(2013, 1, 1, 5, tzinfo=dt.UTC)]})
    assert digest(utc) == digest(utc.with_columns(pl.col("t").dt.convert_time_zone("Etc/UTC")))


def test_a_range_hashes_each_day_as_that_day_alone() -> None:
    days = [dt.date(2013, 1, 1), dt.date(2013, 1, 2), dt.date(2013, 1, 1)]
    frame = pl.DataFrame({"flight_date": days, "dep_delay": [3.5, None, -2.0], "n": [1, 2, 3]})
    keys = ["2013-01-01", "2013-01-02", "2013-01-03"]
    hashes = registry.partition_hashes(frame, "flight_date", keys)
    for key in keys:
        alone = frame.filter(pl.col("flight_date") == dt.date.fromisoformat(key))
        assert hashes[key] == registry.data_version(alone)
    assert hashes["2013-01-03"] == registry.data_version(frame.clear())  # an empty day
    assert len(set(hashes.values())) == 3


def test_every_published_partition_is_registered_with_what_it_read(home: Home) -> None:
    real = nycflights.table("flights").with_columns(day=pl.date("year", "month", "day"))
    for day in (FIRST, LAST):
        (version,) = version_rows(home, CLEAN, day.isoformat())
        rows = day_rows(home, "cleansing.flights_clean", "flight_date", day, "flight_id")
        # the data version is the content hash of the partition's rows as stored
        assert version["data_version"] == registry.data_version(rows)
        assert version["row_count"] == rows.height == real.filter(pl.col("day") == day).height
        assert version["version"] == 1 and version["checks_passed"] is True
        assert version["action"] == "materialization" and version["code_version"] == "1"
        assert json.loads(version["checks"])["contract"] == "passed"
        libraries = json.loads(version["libraries"])
        assert libraries["polars"] == pl.__version__ and libraries["dagster"] == dg.__version__
        schema = json.loads(version["table_schema"])
        assert schema["sched_dep_utc"] == "Datetime(time_unit='us', time_zone='UTC')"

    # a 7-day window read the days of flights_clean it covers, each at its current version
    (window,) = version_rows(home, "aggregation/carrier_delay_7d", LAST.isoformat())
    inputs = json.loads(window["inputs"])
    current = home.sql(
        "select partition, version, data_version from registry.current where asset = ?", [CLEAN]
    )
    expected = [
        {"asset": CLEAN, "partition": p, "version": v, "data_version": dv}
        for p, v, dv in sorted(current.iter_rows())
    ]
    assert inputs == expected
    assert [i["partition"] for i in inputs] == [str(FIRST + dt.timedelta(d)) for d in range(5)]

    # a raw day records the landing file it was read from, with the hash of its bytes
    (raw,) = version_rows(home, "ingestion/raw_flights", "2013-01-02")
    path = daily_file(settings.landing_dir(home.path), "flights", dt.date(2013, 1, 2))
    ((delivered),) = json.loads(raw["inputs"])
    assert Path(delivered["file"]).name == path.name == "2013-01-02.csv"
    assert delivered["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    # Dagster shows the same facts: each partition's data version as metadata; a range run's
    # data version names the range
    event = home.instance.fetch_materializations(
        AssetRecordsFilter(dg.AssetKey.from_user_string(CLEAN), asset_partitions=["2013-01-05"]),
        limit=1,
    ).records[0]
    materialization = event.asset_materialization
    assert materialization is not None
    assert materialization.metadata["data_version"].value == version["data_version"]
    assert materialization.metadata["version"].value == 1
    assert materialization.tags is not None
    assert materialization.tags[DATA_VERSION_TAG].startswith("5 partitions 2013-01-01..2013-01-05")

    # a one-day run's Dagster data version is that day's content hash
    home.run(LAST, LAST, selection=CLEANSING)
    (_, newest) = version_rows(home, CLEAN, LAST.isoformat())
    event = home.instance.fetch_materializations(
        AssetRecordsFilter(dg.AssetKey.from_user_string(CLEAN), asset_partitions=["2013-01-05"]),
        limit=1,
    ).records[0]
    assert event.asset_materialization is not None and event.asset_materialization.tags
    assert event.asset_materialization.tags[DATA_VERSION_TAG] == newest["data_version"]
    assert newest["data_version"] == version["data_version"]  # same rows: same data version
    assert newest["version"] == 2


def test_a_rewrite_keeps_the_previous_rows_and_rollback_restores_them_exactly(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    day = dt.date(2013, 1, 3)
    original = day_rows(home, "cleansing.flights_clean", "flight_date", day, "flight_id")
    change_first_delay(home, day, 300)
    home.run(day, day, selection=[dg.AssetKey(["ingestion", "raw_flights"])])
    home.run(
        day,
        day,
        selection=RECOMPUTED,
    )
    changed = day_rows(home, "cleansing.flights_clean", "flight_date", day, "flight_id")
    assert (changed["dep_delay"] == 300).sum() == (original["dep_delay"] == 300).sum() + 1
    v1, v2 = version_rows(home, CLEAN, str(day))
    assert v1["data_version"] != v2["data_version"]
    # the superseded version's rows are kept, keyed by their data version
    kept = home.sql(
        "select * exclude (_data_version) from history.cleansing__flights_clean "
        "where _data_version = ? order by flight_id",
        [v1["data_version"]],
    )
    assert_frame_equal(kept, original)

    command = ["rollback", CLEAN, "--partition", str(day), "--reason", "delays were wrong"]
    assert cli.main([*command, "--by", "ml-oncall"]) == 0
    said = capsys.readouterr().out
    assert f"{CLEAN} {day}: version 2 replaced by the rows of version 1 (now version 3" in said
    assert_frame_equal(
        day_rows(home, "cleansing.flights_clean", "flight_date", day, "flight_id"), original
    )
    *_, v3 = version_rows(home, CLEAN, str(day))
    assert (v3["version"], v3["action"], v3["restored_from"]) == (3, "rollback", 1)
    assert (v3["data_version"], v3["recorded_by"], v3["reason"]) == (
        v1["data_version"],
        "ml-oncall",
        "delays were wrong",
    )
    # the version rolled back is kept too: a rollback can be rolled back
    assert cli.main([*command[:4], "--to", "2", "--reason", "no, they were right"]) == 0
    assert_frame_equal(
        day_rows(home, "cleansing.flights_clean", "flight_date", day, "flight_id"), changed
    )
    # audited, with who, why and which versions
    rollbacks = [e for e in store.audit_log(home.path).to_dicts() if e["action"] == "rollback"]
    assert [(e["who"], e["reason"]) for e in rollbacks][0] == ("ml-oncall", "delays were wrong")
    assert json.loads(rollbacks[0]["details"])["to_version"] == 1
    assert audit.verify(settings.audit_log_path(home.path))[1] is None
    # Dagster has the restored rows as the partition's latest materialisation, checks passed
    event = home.instance.fetch_materializations(
        AssetRecordsFilter(dg.AssetKey.from_user_string(CLEAN), asset_partitions=[str(day)]),
        limit=1,
    ).records[0]
    run = home.instance.get_run_by_id(event.run_id)
    assert run is not None and run.job_name == "rollback"
    assert event.asset_materialization is not None
    assert event.asset_materialization.tags == {DATA_VERSION_TAG: v2["data_version"]}
    checks = [
        e.dagster_event.asset_check_evaluation_data
        for e in home.instance.all_logs(
            event.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        if e.dagster_event
    ]
    assert [(c.check_name, c.passed, c.partition) for c in checks] == [("contract", True, str(day))]
    target = checks[0].target_materialization_data
    assert target is not None and target.storage_id == event.storage_id


def test_rollback_says_what_it_cannot_do(home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["rollback", CLEAN, "--partition", "2013-01-02", "--reason", "x"]) == 2
    assert "no earlier validated version" in capsys.readouterr().err
    assert cli.main(["rollback", CLEAN, "--reason", "x"]) == 2
    assert "is partitioned: give the partition" in capsys.readouterr().err
    assert cli.main(["rollback", "cleansing/nothing", "--reason", "x"]) == 2


def test_retention_keeps_the_newest_superseded_versions(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(settings.KEEP_VERSIONS_ENV_VAR, "1")
    day = dt.date(2013, 1, 2)
    raw = dg.AssetKey(["ingestion", "raw_flights"])
    for minutes in (301, 302):
        change_first_delay(home, day, minutes)
        home.run(day, day, selection=[raw])
    kept = home.sql(
        "select distinct _data_version from history.ingestion__raw_flights where landing_date = ?",
        [day],
    )
    v1, v2, v3 = version_rows(home, "ingestion/raw_flights", str(day))
    assert kept["_data_version"].to_list() == [v2["data_version"]]  # v1's rows are gone
    command = ["rollback", "ingestion/raw_flights", "--partition", str(day), "--reason", "x"]
    assert cli.main([*command, "--to", "1"]) == 2
    assert "are no longer kept (retention)" in capsys.readouterr().err
    assert cli.main(command) == 0  # the last validated version, v2, is kept
    assert (
        version_rows(home, "ingestion/raw_flights", str(day))[-1]["data_version"]
        == (v2["data_version"])
    )
    assert v3["version"] == 3


def test_a_training_set_is_rebuilt_exactly_from_its_manifest_after_features_moved_on(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "train.parquet"
    command = ["training-set", "--start", "2013-01-02", "--end", "2013-01-05", "--out", str(out)]
    assert cli.main(command) == 0
    path = store.manifest_path(out)
    signed = json.loads(path.read_text())
    original = pl.read_parquet(out)
    assert signed["rows"] == original.height and signed["content_hash"] == (
        registry.content_hash(original)
    )
    read = {(f["asset"], f["partition"]) for f in signed["features"]}
    assert ("transformation/flight_features", "2013-01-05") in read
    assert ("cleansing/weather_clean", "2013-01-01") in read  # the day before, for early flights
    assert ("aggregation/carrier_delay_7d", "2013-01-05") not in read  # known only after D
    assert signed["signature"]["key_id"] == manifest.key_id(KEY.encode())

    # the features move on: a corrected file for 3 January, recomputed downstream
    change_first_delay(home, dt.date(2013, 1, 3), 600)
    home.run(FIRST, LAST, selection=dg.AssetSelection.all() - dg.AssetSelection.groups("training"))
    moved, _ = store.training_set_with_versions(dt.date(2013, 1, 2), LAST)
    assert registry.content_hash(moved) != signed["content_hash"]

    capsys.readouterr()
    assert cli.main(["training-set", "rebuild", str(path)]) == 0
    assert f"same content hash {signed['content_hash'][:12]}" in capsys.readouterr().out
    rebuilt = pl.read_parquet(tmp_path / "train.rebuilt.parquet")
    assert_frame_equal(rebuilt, original)
    rows, same = store.rebuild(path)
    assert same and rows.height == original.height


def test_a_tampered_manifest_or_file_fails_verify(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    out = tmp_path / "train.parquet"
    assert store.write_training_set(dt.date(2013, 1, 4), LAST, out)["rows"] > 1000
    path = store.manifest_path(out)
    assert cli.main(["training-set", "verify", str(path)]) == 0
    good_manifest, good_file = path.read_text(), out.read_bytes()

    # an edited manifest: a feature version swapped
    edited = json.loads(good_manifest)
    edited["features"][0]["version"] = 7
    path.write_text(json.dumps(edited))
    capsys.readouterr()
    assert cli.main(["training-set", "verify", str(path)]) == 1
    assert "the signature does not match the manifest: it was changed" in capsys.readouterr().err
    with pytest.raises(manifest.ManifestError, match="signature"):
        store.rebuild(path)
    path.write_text(good_manifest)

    # an edited file: one label flipped, written back as valid parquet
    rows = pl.read_parquet(out)
    flipped = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(~pl.col("dep_delayed_15"))
        .otherwise(pl.col("dep_delayed_15"))
        .alias("dep_delayed_15")
    )
    flipped.write_parquet(out)
    assert cli.main(["training-set", "verify", str(path)]) == 1
    assert "differs from the manifest's" in capsys.readouterr().err
    out.write_bytes(good_file[: len(good_file) // 2])  # truncated
    assert cli.main(["training-set", "verify", str(path)]) == 1
    assert "unreadable as parquet" in capsys.readouterr().err
    out.write_bytes(good_file)

    # another key: the signature is not ours
    monkeypatch.setenv(settings.SIGNING_KEY_ENV_VAR, "f" * 32)
    assert cli.main(["training-set", "verify", str(path)]) == 1
    assert "signed with key" in capsys.readouterr().err
    monkeypatch.delenv(settings.SIGNING_KEY_ENV_VAR)
    assert cli.main(["training-set", "verify", str(path)]) == 2
    assert settings.SIGNING_KEY_ENV_VAR in capsys.readouterr().err


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_audit_verify_names_an_edited_a_deleted_and_a_reordered_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.HOME_ENV_VAR, str(tmp_path))
    log = settings.audit_log_path(tmp_path)
    for i in range(1, 6):
        audit.append(log, "rollback", f"asset {i}", f"reason {i}", {"n": i}, by="ana")
    assert audit.verify(log) == (5, None)
    assert cli.main(["audit", "verify"]) == 0
    assert "5 entries, the chain holds" in capsys.readouterr().out
    good = lines(log)

    def broken(entries: list[str]) -> str:
        log.write_text("\n".join(entries) + "\n")
        assert cli.main(["audit", "verify"]) == 1
        return capsys.readouterr().err

    edited = json.loads(good[2])
    edited["reason"] = "nobody will notice"
    said = broken([*good[:2], json.dumps(edited), *good[3:]])
    assert "BROKEN at entry 3 (line 3): edited" in said
    said = broken([*good[:1], *good[2:]])
    assert "BROKEN at entry 3 (line 2): entry 2 before it was removed" in said
    said = broken([good[0], good[2], good[1], *good[3:]])
    assert "BROKEN at entry 3 (line 2): out of order: entry 2 should come here" in said
    said = broken(good[:4])  # the newest entry removed: the head still names it
    assert "missing: the log ends at entry 4 but its head records entry 5" in said
    log.write_text("\n".join(good) + "\n")
    assert cli.main(["audit", "verify"]) == 0


def test_definition_changes_are_audited_when_the_code_location_loads_them(
    home: Home,
) -> None:
    log = settings.audit_log_path(home.path)

    def tick(definitions: dg.Definitions) -> list[dict]:
        before = len(audit.entries(log))
        context = dg.build_sensor_context(
            instance=home.instance, repository_def=definitions.get_repository_def()
        )
        feature_definitions(context)
        return audit.entries(log)[before:]

    defs = dg.Definitions(assets=ALL_ASSETS, resources=build_resources(home.path))
    added = tick(defs)
    assert {e["action"] for e in added} == {"definition.added"}
    assert {e["subject"] for e in added} == {k.to_user_string() for a in ALL_ASSETS for k in a.keys}
    assert tick(defs) == []  # nothing changed: nothing audited
    (entry,) = tick(
        with_code_version(home.path, dg.AssetKey(["aggregation", "route_delay_28d"]), "2")
    )
    assert (entry["action"], entry["subject"]) == (
        "definition.changed",
        "aggregation/route_delay_28d",
    )
    assert entry["details"]["changed"] == ["code_version"]
    assert (
        entry["details"]["before"]["code_version"],
        entry["details"]["after"]["code_version"],
    ) == ("1", "2")
    assert audit.verify(log)[1] is None


def test_a_held_back_partition_and_a_refused_file_are_audited(home: Home) -> None:
    day = dt.date(2013, 1, 4)
    path = daily_file(settings.landing_dir(home.path), "flights", day)
    good = path.read_bytes()
    path.write_bytes(b"\n".join(good.split(b"\n")[:11]) + b"\n")  # 10 flights: a volume gate
    raw = dg.AssetKey(["ingestion", "raw_flights"])

    def run() -> None:
        result = dg.materialize(
            ALL_ASSETS,
            selection=[raw],
            resources=build_resources(home.path),
            instance=home.instance,
            partition_key=str(day),
            raise_on_error=False,
        )
        assert not result.success

    run()
    (entry,) = audit.entries(settings.audit_log_path(home.path))
    assert (entry["action"], entry["subject"]) == ("gate.failed", f"ingestion/raw_flights {day}")
    assert entry["reason"].startswith(
        f"ingestion/raw_flights partition {day} (file {path}): 10 rows"
    )
    (failed,) = entry["details"]["failed"]
    assert (failed["partition"], failed["check"]) == (str(day), "volume")
    assert failed["rejected_data_version"]

    path.write_bytes(good.replace(b"dep_delay", b"departure_delay", 1))  # a renamed column
    run()
    *_, refused = audit.entries(settings.audit_log_path(home.path))
    assert (refused["action"], refused["subject"]) == (
        "gate.failed",
        f"ingestion/raw_flights {day}",
    )
    assert str(path) in refused["reason"] and "departure_delay" in refused["reason"]
    assert audit.verify(settings.audit_log_path(home.path))[1] is None


def test_ml_code_reads_the_catalog_and_any_kept_version_without_dagster(home: Home) -> None:
    catalog = store.features(home.path)
    row = catalog.filter(pl.col("name") == "mean_dep_delay_7d").to_dicts()[0]
    assert row["asset"] == "aggregation/carrier_delay_7d"
    assert (row["entity"], row["ttl_seconds"], row["role"]) == ("carrier", 3 * 86400, "feature")
    assert row["owners"] == "team:ml-features" and row["upstream"] == CLEAN
    assert row["dtype"] == "Float64"
    label = catalog.filter(pl.col("name") == "dep_delayed_15").to_dicts()[0]
    assert (label["role"], label["entity"]) == ("label", "flight_id")

    day = dt.date(2013, 1, 2)
    v1 = store.read_feature("aggregation/carrier_daily_stats", str(day), home=home.path)
    change_first_delay(home, day, 500)
    home.run(
        day,
        day,
        selection=[
            dg.AssetKey(["ingestion", "raw_flights"]),
            *CLEANSING,
            dg.AssetKey(["aggregation", "carrier_daily_stats"]),
        ],
    )
    v2 = store.read_feature("aggregation/carrier_daily_stats", str(day), home=home.path)
    assert not v1.equals(v2)
    again = store.read_feature(
        "aggregation/carrier_daily_stats", str(day), version=1, home=home.path
    )
    assert_frame_equal(again.sort("carrier"), v1.sort("carrier"))
    assert (
        registry.data_version(again)
        == store.versions("aggregation/carrier_daily_stats", str(day), home=home.path).filter(
            pl.col("version") == 1
        )["data_version"][0]
    )
    published = read_table(home.path, "training.flight_delay_training_set", "flight_id")
    assert store.training_set(FIRST, LAST, home=home.path).height == published.height


def test_a_failed_run_is_recorded_as_an_incident_for_its_owners(home: Home) -> None:
    day = dt.date(2013, 1, 4)
    path = daily_file(settings.landing_dir(home.path), "flights", day)
    path.write_bytes(b"\n".join(path.read_bytes().split(b"\n")[:11]) + b"\n")  # 10 flights
    result = dg.materialize(
        ALL_ASSETS,
        selection=[dg.AssetKey(["ingestion", "raw_flights"]), *CLEANSING],
        resources=build_resources(home.path),
        instance=home.instance,
        partition_key=str(day),
        raise_on_error=False,
    )
    assert not result.success
    run = home.instance.get_run_by_id(result.run_id)
    assert run is not None
    (failure,) = home.instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert failure.dagster_event is not None
    context = dg.build_run_status_sensor_context(
        sensor_name="incidents",
        dagster_event=failure.dagster_event,
        dagster_instance=home.instance,
        dagster_run=run,
        repository_def=defs.get_repository_def(),
    ).for_run_failure()
    incidents(context)

    (entry,) = audit.entries(settings.incidents_path(home.path))
    found = entry["details"]
    assert entry["subject"] == f"ingestion/raw_flights {day}"
    assert found["run_id"] == result.run_id and found["partitions"] == str(day)
    assert found["failed_assets"] == ["ingestion/raw_flights"]
    assert found["owners"] == ["team:data-platform"]
    (error,) = found["errors"]
    assert error["step"] == "ingestion__raw_flights"
    assert "volume" in error["error"] and "ingestion/raw_flights" in error["error"]
    assert entry["reason"] == error["error"].splitlines()[0]
    assert found["parameters"]["tags"]["dagster/partition"] == str(day)
    assert found["inputs_last_materialized"] == {"ingestion/raw_flights": {}}  # reads files only
    assert audit.verify(settings.incidents_path(home.path))[1] is None
