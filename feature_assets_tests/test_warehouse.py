"""The warehouse's promises: atomic, idempotent partition writes; window-limited reads."""

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_assets.lib import settings
from feature_assets.lib.warehouse import read_rows, replace_rows
from feature_assets_tests.conftest import Materialize, deliver, read_table

D = dt.date


def frame(
    days: list[dt.date], values: list[int], dtype: type[pl.DataType] = pl.Int64
) -> pl.DataFrame:
    return pl.DataFrame({"day": days, "value": values}, schema_overrides={"value": dtype})


def test_a_failed_partition_write_leaves_the_previous_rows(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute("create schema t")
        conn.execute("create table t.x (day date, value integer check (value >= 0))")
        replace_rows(
            conn,
            "t.x",
            frame([D(2013, 1, 1), D(2013, 1, 2)], [1, 2], pl.Int32),
            "day",
            (D(2013, 1, 1), D(2013, 1, 2)),
        )
        before = read_rows(conn, "t.x")
        # The delete of 2 January runs, then the insert breaks the table's rule: all rolled back.
        with pytest.raises(duckdb.ConstraintException):
            replace_rows(
                conn,
                "t.x",
                frame([D(2013, 1, 2)], [-5], pl.Int32),
                "day",
                (D(2013, 1, 2), D(2013, 1, 2)),
            )
        assert_frame_equal(read_rows(conn, "t.x"), before)


def test_rewriting_a_window_replaces_only_that_window(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        days = [D(2013, 1, 1), D(2013, 1, 2), D(2013, 1, 3)]
        replace_rows(conn, "t.x", frame(days, [1, 2, 3]), "day", (days[0], days[-1]))
        for _ in range(2):
            replace_rows(
                conn, "t.x", frame([days[1], days[1]], [20, 21]), "day", (days[1], days[1])
            )
        result = read_rows(conn, "t.x").sort("day", "value")
        assert result.rows() == [(days[0], 1), (days[1], 20), (days[1], 21), (days[2], 3)]
        assert read_rows(conn, "t.x", ["value"], "day", (days[2], days[2])).rows() == [(3,)]


def test_a_new_column_is_added_and_a_changed_type_is_refused(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        day = D(2013, 1, 1)
        replace_rows(conn, "t.x", frame([day], [1]), "day", (day, day))
        replace_rows(
            conn,
            "t.x",
            frame([D(2013, 1, 2)], [2]).with_columns(extra=pl.lit("a")),
            "day",
            (D(2013, 1, 2), D(2013, 1, 2)),
        )
        assert read_rows(conn, "t.x").sort("day")["extra"].to_list() == [None, "a"]
        with pytest.raises(TypeError, match=r"t.x.value is BIGINT .* new rows have VARCHAR"):
            replace_rows(
                conn, "t.x", pl.DataFrame({"day": [day], "value": ["1"]}), "day", (day, day)
            )


def test_rows_outside_the_runs_partitions_are_refused(
    home: Path, materialize: Materialize, instance: dg.DagsterInstance
) -> None:
    from feature_assets.lib.assets import partitioned_by
    from feature_assets.lib.partitions import daily_partitions
    from feature_assets.lib.resources import build_resources

    @dg.asset(
        key_prefix="aggregation", metadata=partitioned_by("day"), partitions_def=daily_partitions
    )
    def leaky() -> pl.DataFrame:
        return frame([D(2013, 1, 1), D(2013, 1, 9)], [1, 2])

    result = dg.materialize(
        [leaky],
        partition_key="2013-01-01",
        resources=build_resources(home),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "1 rows have day outside the run's partitions 2013-01-01..2013-01-01" in str(
        failure.step_failure_data.error
    )


def test_a_missing_landing_file_fails_and_keeps_the_published_rows(
    home: Path, materialize: Materialize
) -> None:
    deliver(home, D(2013, 1, 1), 2)
    materialize(D(2013, 1, 1), D(2013, 1, 2))
    before = read_table(home, "cleansing.flights_clean", "flight_id")
    missing = settings.landing_dir(home) / "weather" / "2013-01-03.csv"
    deliver(home, D(2013, 1, 3), 1, sources=["flights"])
    result = materialize(D(2013, 1, 2), D(2013, 1, 3), raise_on_error=False)
    assert not result.success
    errors = " ".join(
        str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure
    )
    assert f"{missing}: file is missing" in errors
    assert "partition 2013-01-02..2013-01-03" in errors
    # Weather failed; flights of both days were fine and were written; nothing was lost.
    after = read_table(home, "cleansing.flights_clean", "flight_id")
    assert set(before["flight_id"]) <= set(after["flight_id"])
    assert read_table(home, "cleansing.weather_clean", "time_hour")["obs_date"].max() == D(
        2013, 1, 2
    )


def test_each_partition_of_a_range_run_reports_its_own_rows(
    home: Path, materialize: Materialize, instance: dg.DagsterInstance
) -> None:
    deliver(home, D(2013, 1, 1), 3)
    flights_and_codes = dg.AssetSelection.assets(["ingestion", "raw_flights"]).downstream(
        depth=1
    ) | dg.AssetSelection.assets(["ingestion", "airlines"], ["ingestion", "airports"])
    materialize(D(2013, 1, 1), D(2013, 1, 3), selection=flights_and_codes)
    key = dg.AssetKey(["cleansing", "flights_clean"])
    counts = {}
    for day in ("2013-01-01", "2013-01-02", "2013-01-03"):
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records
        materialization = records[0].asset_materialization
        assert materialization is not None
        counts[day] = materialization.metadata["dagster/row_count"].value
        assert materialization.metadata["dagster/table_name"].value == "cleansing.flights_clean"
        schema = materialization.metadata["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchemaMetadataValue)
        assert {c.name for c in schema.schema.columns} >= {"flight_id", "sched_dep_utc"}
    # The real number of flights scheduled on each of those local days.
    assert counts == {"2013-01-01": 842, "2013-01-02": 943, "2013-01-03": 914}
