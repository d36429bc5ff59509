"""The warehouse: one DuckDB file, one schema per tier, polars frames in and out.

The functions here read and write the tables; ``lib/io_manager.py`` stores each asset as the table
``<tier>.<name>`` (its asset key) through dagster-duckdb's ``DuckDBResource`` with them. It exists
because dagster-duckdb-polars 0.29 cannot read with duckdb 2 and its partition write is not
atomic (delete, then an autocommit insert by position):

- a partition write is one transaction: delete the window's rows, insert the new rows by column
  name; a failure or a crash mid-write leaves the previous rows, and a rewrite is idempotent;
- a partitioned asset names the DATE column that holds its partition in the metadata key
  ``partition_expr`` (as dagster-duckdb does), and rows outside the run's window are refused;
- an input is read for the window its partition mapping gives (e.g. 7 days for a 7-day window),
  limited to the columns named in the ``AssetIn`` metadata key ``columns`` when given.
"""

import datetime as dt
import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource

from feature_assets.lib.schemas import CONTRACTS, table_schema

PARTITION_EXPR = "partition_expr"


def table_name(key: dg.AssetKey) -> str:
    """``[tier, name]`` -> ``tier.name``: the schema is the tier."""
    if len(key.path) != 2:
        raise ValueError(f"asset key {key.to_user_string()} must be [tier, name]")
    return ".".join(key.path)


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when ``schema.table`` exists."""
    schema, name = table.split(".")
    found = conn.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()  # duckdb 2: a result must be fetched to the end before the next statement
    return bool(found)


def normalise(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB hands TIMESTAMPTZ back as ``Etc/UTC``; the code speaks ``UTC``."""
    utc = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC")
    ]
    return frame.with_columns(pl.col(utc).dt.convert_time_zone("UTC")) if utc else frame


def add_missing_columns(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Schema evolution for a new nullable column; a changed type is an error to resolve."""
    existing = {
        row[0]: row[1]
        for row in conn.execute(f"describe {table}").fetchall()  # noqa: S608
    }
    _incoming_types = frame.head(0)  # noqa: F841 (read by name by DuckDB's replacement scan)
    incoming = {
        row[0]: row[1] for row in conn.execute("describe select * from _incoming_types").fetchall()
    }
    for column, sql_type in incoming.items():
        if column not in existing:
            conn.execute(f'alter table {table} add column "{column}" {sql_type}')
        elif existing[column] != sql_type:
            raise TypeError(
                f"{table}.{column} is {existing[column]} in the warehouse but the new rows have "
                f"{sql_type}: migrate the table (or drop it and backfill) before writing"
            )


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB transaction: committed when the block ends, rolled back when it raises."""
    conn.execute("begin transaction")
    try:
        yield conn
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def write_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    partition_column: str | None = None,
    dates: tuple[dt.date, dt.date] | None = None,
) -> None:
    """Replace a table, or its rows of ``dates`` [first, last], inside the caller's transaction."""
    schema = table.split(".")[0]
    conn.execute(f"create schema if not exists {schema}")
    _incoming = frame  # noqa: F841 (read by name by DuckDB's replacement scan)
    if partition_column is None or not table_exists(conn, table):
        conn.execute(f"create or replace table {table} as select * from _incoming")
    else:
        assert dates is not None
        add_missing_columns(conn, table, frame)
        conn.execute(f'delete from {table} where "{partition_column}" between ? and ?', list(dates))
        conn.execute(f"insert into {table} by name select * from _incoming")


def replace_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    partition_column: str | None = None,
    dates: tuple[dt.date, dt.date] | None = None,
) -> None:
    """Atomically replace a table, or its rows of ``dates`` [first, last]."""
    with transaction(conn):
        write_rows(conn, table, frame, partition_column, dates)


def read_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None = None,
    partition_column: str | None = None,
    dates: tuple[dt.date, dt.date] | None = None,
    missing_ok: bool = False,
) -> pl.DataFrame:
    """Read a table, or the rows of ``dates`` [first, last], as a polars frame.

    A table that does not exist yet is an error, or, with ``missing_ok``, no rows and no columns.
    """
    if not table_exists(conn, table):
        if missing_ok:
            return pl.DataFrame(schema={c: pl.Null for c in columns or []})
        raise dg.Failure(
            f"table {table} does not exist yet: materialise its asset first",
            allow_retries=False,
        )
    select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    query = f"select {select} from {table}"
    params: list[Any] = []
    if partition_column and dates:
        query += f' where "{partition_column}" between ? and ?'
        params = list(dates)
    return normalise(conn.sql(query, params=params).pl())


def daily_counts(
    conn: duckdb.DuckDBPyConnection, table: str, column: str, first: dt.date, last: dt.date
) -> dict[dt.date, int]:
    """Rows per day of DATE ``column`` in [first, last]; empty when the table does not exist."""
    if not table_exists(conn, table):
        return {}
    rows = conn.execute(
        f'select "{column}", count(*) from {table} where "{column}" between ? and ? group by 1',
        [first, last],
    ).fetchall()
    return {day: int(n) for day, n in rows}


def null_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Null count per column, for the columns that have any."""
    counts = frame.null_count().row(0, named=True)
    return {column: int(n) for column, n in counts.items() if n}


def null_numbers(nulls: dict[str, int], rows: int, columns: int) -> dict[str, Any]:
    """Null cells and their share of all cells: plain numbers, which the UI plots over time."""
    cells = sum(nulls.values())
    return {
        "null_cells": cells,
        "null_fraction": round(cells / (rows * columns), 6) if rows else 0.0,
    }


def column_schema(frame: pl.DataFrame, key: dg.AssetKey | None = None) -> dg.TableSchema:
    """Dagster's ``dagster/column_schema``: the contract's (which the rows passed), or the frame's.

    The contract version carries each column's description and rules.
    """
    if key in CONTRACTS:
        return table_schema(key)
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype)) for name, dtype in frame.schema.items()]
    )


def row_metadata(frame: pl.DataFrame) -> dict[str, Any]:
    """What one partition's (or an unpartitioned table's) materialisation shows about its rows."""
    nulls = null_counts(frame)
    return {
        "dagster/row_count": frame.height,
        "null_counts": dg.MetadataValue.json(nulls),
        **null_numbers(nulls, frame.height, frame.width),
    }


def metadata_by_partition(
    frame: pl.DataFrame, partition_column: str, partition_keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``row_metadata`` of each daily partition key (``YYYY-MM-DD``), empty ones included.

    One group-by over the frame (no per-partition copies).
    """
    columns = [c for c in frame.columns if c != partition_column]  # the key is never null
    stats = frame.group_by(partition_column).agg(
        pl.len().alias("__rows"), *(pl.col(c).null_count().alias(c) for c in columns)
    )
    by_day = {row[partition_column].isoformat(): row for row in stats.iter_rows(named=True)}
    result = {}
    for key in partition_keys:
        row = by_day.get(key)
        nulls = {c: int(row[c]) for c in columns if row and row[c]} if row else {}
        result[key] = {
            "dagster/row_count": int(row["__rows"]) if row else 0,
            "null_counts": dg.MetadataValue.json(nulls),
            **null_numbers(nulls, int(row["__rows"]) if row else 0, frame.width),
        }
    return result


class WarehouseDatabase(DuckDBResource):
    """dagster-duckdb's ``DuckDBResource``, opened by one process at a time, always closed.

    DuckDB admits one writer process and refuses a second (``Could not set lock on file``);
    dagster-duckdb retries that for about 100 s, then fails. The ``duckdb`` pool queues steps,
    but two runs that start at the same instant can both win the pool's one slot (SQLite has no
    row lock for Dagster's slot claim). So every connection also holds an exclusive lock on
    ``<database>.lock`` while open: another process waits for it, however long the first takes.
    Connections are not nested within a process (a nested one would wait for itself).

    dagster-duckdb's own ``get_connection`` leaves the connection open when the block raises (a
    failed write), and an open connection keeps DuckDB's lock on the file: this one closes it.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse, holding the cross-process lock while open."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.database}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                conn = backoff(
                    fn=duckdb.connect,
                    retry_on=(RuntimeError, duckdb.IOException),
                    kwargs={
                        "database": self.database,
                        "read_only": False,
                        "config": {"custom_user_agent": "dagster", **self.connection_config},
                    },
                    max_retries=10,
                )
                try:
                    yield conn
                finally:
                    conn.close()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


DUCKDB_POOL = "duckdb"
"""Every step that opens the DuckDB file runs in this pool: DuckDB admits one writer process, so
dagster.yaml limits the pool to one step at a time and concurrent runs queue (visibly, in the UI)
instead of failing; ``WarehouseDatabase``'s file lock covers what the pool cannot (two runs that
claim the slot at the same instant, and processes outside Dagster's queue)."""
