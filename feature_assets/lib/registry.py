"""The feature registry: every published version of every partition, and the rows of past ones.

Tables in the warehouse (schema ``registry``), written in the same transaction as the rows:

- ``registry.versions``: one row per published version of an asset partition (a materialisation
  or a rollback): ``version`` (1, 2, ... per asset and partition), ``data_version`` (a hash of
  the partition's rows in any order, ``data_version``), ``code_version``, ``inputs`` (the asset
  partitions it read, each with the version and data version read, and the landing files with
  their SHA-256), ``row_count``, ``table_schema``, ``libraries``, ``config``, ``run_id``,
  ``recorded_at``, ``checks_passed`` and ``checks`` (every check's result for the partition),
  and for a rollback ``restored_from``, ``recorded_by`` and ``reason``. The current version of
  a partition is its highest (view ``registry.current``).
- ``history.<tier>__<name>``: the rows of superseded versions, keyed by ``_data_version`` (and
  the partition column): content-addressed, so a version published twice is kept once. The
  newest ``keep`` superseded data versions of each partition are kept (retention).
- ``registry.features``: the feature catalog (``lib/features.py``), refreshed by every write.

Unpartitioned tables (the dimension snapshots) are recorded under the partition ``''``.
"""

import datetime as dt
import hashlib
import json
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

import duckdb
import polars as pl

from feature_assets.lib.warehouse import add_missing_columns, normalise, table_exists, write_rows

VERSIONS = "registry.versions"
CURRENT = "registry.current"
FEATURES = "registry.features"
UNPARTITIONED = ""
HISTORY_VERSION = "_data_version"

LIBRARIES = ("dagster", "polars", "duckdb", "pandera", "pyarrow")

_DDL = f"""
create schema if not exists registry;
create schema if not exists history;
create table if not exists {VERSIONS} (
    asset varchar not null,
    partition varchar not null,
    version integer not null,
    data_version varchar not null,
    code_version varchar,
    inputs json,
    row_count bigint not null,
    table_schema json,
    libraries json,
    config json,
    run_id varchar,
    recorded_at timestamptz not null,
    checks_passed boolean not null,
    checks json,
    action varchar not null,
    restored_from integer,
    recorded_by varchar,
    reason varchar,
    primary key (asset, partition, version)
);
create view if not exists {CURRENT} as
    select * from {VERSIONS}
    qualify row_number() over (partition by asset, partition order by version desc) = 1;
"""


class RegistryError(ValueError):
    """A version asked for is unknown, or its rows are no longer kept."""


FLOAT_DIGITS = 10
"""Floats are hashed to this many significant digits: below that is the noise of summing the
same numbers in another order (a range run and a one-day run differ there), not a new version."""


def _canonical(column: str, dtype: pl.DataType) -> pl.Expr:
    """A column as hashed: floats to ``FLOAT_DIGITS`` digits, instants in UTC.

    (DuckDB hands instants back as ``Etc/UTC``.)
    """
    if dtype.is_float():
        return pl.col(column).round_sig_figs(FLOAT_DIGITS)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return pl.col(column).dt.convert_time_zone("UTC")
    return pl.col(column)


def _canonical_frame(frame: pl.DataFrame) -> tuple[pl.DataFrame, bytes]:
    """The frame's columns in name order, canonical; and its schema as bytes to hash first."""
    columns = sorted(frame.columns)
    canonical = frame.select(_canonical(c, frame.schema[c]) for c in columns)
    return canonical, json.dumps([[c, str(canonical.schema[c])] for c in columns]).encode()


def _row_hashes(canonical: pl.DataFrame) -> pl.DataFrame:
    """Two 64-bit hashes of each row (columns ``a``, ``b``)."""
    return pl.DataFrame({"a": canonical.hash_rows(seed=0), "b": canonical.hash_rows(seed=1)})


def _digest(schema: bytes, hashes: pl.DataFrame) -> str:
    hashes = hashes.sort("a", "b")
    digest = hashlib.sha256(schema)
    digest.update(hashes["a"].to_numpy().tobytes())
    digest.update(hashes["b"].to_numpy().tobytes())
    return digest.hexdigest()


def data_version(frame: pl.DataFrame) -> str:
    """The data version of a partition: SHA-256 of its schema and its rows, in any row order.

    Each row is hashed twice (polars ``hash_rows`` with two seeds: 128 bits a row), the row
    hashes are sorted and hashed with the column names and types. Fast (a tenth of a second
    per million rows) and the same in every process; polars does not promise the same row
    hashes across its versions, so a polars upgrade may give unchanged rows a new data version
    (a new version in the registry, not a wrong one). Files that must verify anywhere use
    ``content_hash``.
    """
    canonical, schema = _canonical_frame(frame)
    return _digest(schema, _row_hashes(canonical))


def content_hash(frame: pl.DataFrame) -> str:
    """SHA-256 of a frame's columns, types and rows, whatever the order of rows and columns.

    Portable (it does not depend on polars' row hashing): rows are sorted by every column
    (columns in name order, ``_canonical``) and written as CSV, after the column names and
    types. For training-set files and their manifests; about 3 s per million rows of 23
    columns.
    """
    canonical, schema = _canonical_frame(frame)
    if canonical.height > 1:
        canonical = canonical.sort(canonical.columns, nulls_last=True, maintain_order=False)
    digest = hashlib.sha256(schema)
    digest.update(canonical.write_csv(include_header=False, null_value="\\N").encode())
    return digest.hexdigest()


def partition_hashes(
    frame: pl.DataFrame, partition_column: str | None, partition_keys: Sequence[str]
) -> dict[str, str]:
    """``data_version`` of each daily partition's rows (an empty partition hashes its schema).

    The rows are hashed once for the whole frame; only the hashes are split by day.
    """
    if partition_column is None:
        return {UNPARTITIONED: data_version(frame)}
    canonical, schema = _canonical_frame(frame)
    hashes = _row_hashes(canonical).with_columns(day=frame[partition_column].dt.date())
    by_day = {
        day.isoformat(): part
        for (day,), part in hashes.partition_by("day", as_dict=True).items()
        if day is not None
    }
    empty = hashes.clear()
    return {key: _digest(schema, by_day.get(key, empty)) for key in partition_keys}


@cache
def library_versions() -> dict[str, str]:
    """The versions of Python and the libraries that computed a version."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        versions["feature_assets"] = metadata.version("feature_assets")
    except metadata.PackageNotFoundError:
        versions["feature_assets"] = "not installed"
    return versions


@dataclass(frozen=True)
class Published:
    """What an asset hands its IO manager: rows that passed every blocking gate, and their facts.

    ``data_versions`` and ``checks`` are per partition key (``''`` when unpartitioned);
    ``sources`` lists the landing files each partition was read from (ingestion only).
    """

    frame: pl.DataFrame
    data_versions: Mapping[str, str]
    checks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, Sequence[Mapping[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Version:
    """One recorded version of an asset partition."""

    asset: str
    partition: str
    version: int
    data_version: str
    checks_passed: bool
    action: str
    recorded_at: dt.datetime
    row_count: int
    inputs: list[dict[str, Any]]
    code_version: str | None = None
    restored_from: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Version":
        """A ``registry.versions`` row as a Version."""
        return cls(
            asset=row["asset"],
            partition=row["partition"],
            version=int(row["version"]),
            data_version=row["data_version"],
            checks_passed=bool(row["checks_passed"]),
            action=row["action"],
            recorded_at=row["recorded_at"],
            row_count=int(row["row_count"]),
            inputs=json.loads(row["inputs"] or "[]"),
            code_version=row["code_version"],
            restored_from=row["restored_from"],
        )


def ensure(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the registry's schemas, tables and views where they are missing."""
    if not table_exists(conn, VERSIONS):
        conn.execute(_DDL)


def history_table(table: str) -> str:
    """``tier.name`` -> ``history.tier__name``: where the rows of its past versions are kept."""
    return "history." + table.replace(".", "__")


def current_versions(
    conn: duckdb.DuckDBPyConnection, asset: str, partitions: Iterable[str]
) -> dict[str, Version]:
    """The current version of each of ``partitions`` of ``asset`` that has one."""
    wanted = sorted(set(partitions))
    if not wanted or not table_exists(conn, VERSIONS):
        return {}
    rows = conn.sql(  # filtered before the window (the view would rank every asset first)
        f"""
        select * from {VERSIONS} where asset = ? and partition between ? and ?
        qualify row_number() over (partition by partition order by version desc) = 1
        """,
        params=[asset, wanted[0], wanted[-1]],
    ).pl()
    found = {row["partition"]: Version.from_row(row) for row in rows.iter_rows(named=True)}
    return {p: found[p] for p in wanted if p in found}


def versions(
    conn: duckdb.DuckDBPyConnection, asset: str | None = None, partition: str | None = None
) -> pl.DataFrame:
    """Recorded versions, newest first, of every asset or of one (and one partition)."""
    if not table_exists(conn, VERSIONS):
        return pl.DataFrame()
    where, params = [], []
    if asset is not None:
        where.append("asset = ?")
        params.append(asset)
    if partition is not None:
        where.append("partition = ?")
        params.append(partition)
    clause = f"where {' and '.join(where)}" if where else ""
    return conn.sql(
        f"select * from {VERSIONS} {clause} order by asset, partition, version desc", params=params
    ).pl()


def _partition_filter(partition_column: str | None, partition: str) -> tuple[str, list[Any]]:
    if partition_column is None:
        return "true", []
    return f'"{partition_column}" = ?', [dt.date.fromisoformat(partition)]


def archive(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    partition_column: str | None,
    current: Mapping[str, Version],
    replacing: Mapping[str, str],
) -> int:
    """Copy the live rows of every partition about to change into its history table.

    ``replacing`` maps partitions to their new data version; a partition whose rows do not
    change, or whose current data version is already kept, is not copied. Returns the number of
    partitions archived.
    """
    changing = {
        p: v.data_version
        for p, v in current.items()
        if p in replacing and replacing[p] != v.data_version
    }
    if not changing or not table_exists(conn, table):
        return 0
    history = history_table(table)
    live_head = conn.sql(f"select * from {table} limit 0").pl()
    if not table_exists(conn, history):
        conn.execute(
            f"create table {history} as "
            f"select ''::varchar as {HISTORY_VERSION}, * from {table} limit 0"
        )
    else:
        add_missing_columns(conn, history, live_head)
    kept = _kept(conn, history, partition_column, changing)
    archived = 0
    for partition, data_version in changing.items():
        if (partition, data_version) in kept:
            continue
        where, params = _partition_filter(partition_column, partition)
        conn.execute(
            f"insert into {history} by name "
            f"select ?::varchar as {HISTORY_VERSION}, * from {table} where {where}",
            [data_version, *params],
        )
        archived += 1
    return archived


def _kept(
    conn: duckdb.DuckDBPyConnection,
    history: str,
    partition_column: str | None,
    partitions: Mapping[str, str],
) -> set[tuple[str, str]]:
    """The (partition, data version) pairs among ``partitions`` already in ``history``."""
    wanted = list(set(partitions.values()))
    if partition_column is None:
        found = conn.execute(
            f"select distinct {HISTORY_VERSION} from {history} "
            f"where {HISTORY_VERSION} in (select unnest(?::varchar[]))",
            [wanted],
        ).fetchall()
        return {(UNPARTITIONED, v) for (v,) in found}
    found = conn.execute(
        f"select distinct strftime(\"{partition_column}\", '%Y-%m-%d'), {HISTORY_VERSION} "
        f"from {history} where {HISTORY_VERSION} in (select unnest(?::varchar[]))",
        [wanted],
    ).fetchall()
    return {(p, v) for p, v in found}


def record(
    conn: duckdb.DuckDBPyConnection,
    asset: str,
    current: Mapping[str, Version],
    rows: Sequence[Mapping[str, Any]],
) -> dict[str, int]:
    """Append one version row per partition (``rows`` hold every column but ``version``).

    Returns the version number given to each partition.
    """
    numbered = []
    given = {}
    for row in rows:
        partition = row["partition"]
        version = current[partition].version + 1 if partition in current else 1
        given[partition] = version
        numbered.append({"asset": asset, "version": version, **row})
    _versions = pl.DataFrame(numbered, schema=_VERSION_COLUMNS, strict=False)  # noqa: F841
    conn.execute(f"insert into {VERSIONS} by name select * from _versions")
    return given


_VERSION_COLUMNS = {
    "asset": pl.String,
    "partition": pl.String,
    "version": pl.Int32,
    "data_version": pl.String,
    "code_version": pl.String,
    "inputs": pl.String,
    "row_count": pl.Int64,
    "table_schema": pl.String,
    "libraries": pl.String,
    "config": pl.String,
    "run_id": pl.String,
    "recorded_at": pl.Datetime("us", "UTC"),
    "checks_passed": pl.Boolean,
    "checks": pl.String,
    "action": pl.String,
    "restored_from": pl.Int32,
    "recorded_by": pl.String,
    "reason": pl.String,
}


def prune(
    conn: duckdb.DuckDBPyConnection,
    asset: str,
    table: str,
    partition_column: str | None,
    partitions: Iterable[str],
    keep: int,
) -> int:
    """Drop kept rows of versions beyond the newest ``keep`` superseded data versions.

    For each of ``partitions``: the data versions of its newest versions (the current one and the
    ``keep`` distinct ones before it) stay; older rows in the history table go. Returns rows
    removed.
    """
    history = history_table(table)
    wanted = sorted(set(partitions))
    if not wanted or not table_exists(conn, history):
        return 0
    recent = conn.execute(
        f"""
        select partition, data_version from (
            select partition, data_version, max(version) as newest from {VERSIONS}
            where asset = ? and partition between ? and ?
            group by all
        )
        qualify row_number() over (partition by partition order by newest desc) <= ?
        """,
        [asset, wanted[0], wanted[-1], keep + 1],
    ).fetchall()
    _keep = pl.DataFrame(  # noqa: F841 (read by name by DuckDB's replacement scan)
        {"partition": [p for p, _ in recent], "data_version": [v for _, v in recent]},
        schema={"partition": pl.String, "data_version": pl.String},
    )
    if partition_column is None:
        scope, params = "true", []
        key = "''"
    else:
        scope = f'"{partition_column}" between ? and ?'
        params = [dt.date.fromisoformat(wanted[0]), dt.date.fromisoformat(wanted[-1])]
        key = f"strftime(\"{partition_column}\", '%Y-%m-%d')"
    removed = conn.execute(
        f"""
        delete from {history}
        where {scope} and not exists (
            select 1 from _keep k
            where k.partition = {key} and k.data_version = {history}.{HISTORY_VERSION}
        )
        """,
        params,
    ).fetchall()
    return int(removed[0][0]) if removed else 0


def read_version(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    partition_column: str | None,
    partition: str,
    data_version: str,
    current: Version | None,
) -> pl.DataFrame:
    """The rows of one data version of a partition: live when current, else from history."""
    where, params = _partition_filter(partition_column, partition)
    if current is not None and current.data_version == data_version:
        return normalise(conn.sql(f"select * from {table} where {where}", params=params).pl())
    history = history_table(table)
    if table_exists(conn, history):
        rows = normalise(
            conn.sql(
                f"select * exclude ({HISTORY_VERSION}) from {history} "
                f"where {HISTORY_VERSION} = ? and {where}",
                params=[data_version, *params],
            ).pl()
        )
        if rows.height or _is_empty_version(conn, table, partition, data_version):
            return rows
    raise RegistryError(
        f"{table} partition {partition or '(unpartitioned)'}: the rows of data version "
        f"{data_version[:12]} are no longer kept (retention) or were never published"
    )


def _is_empty_version(
    conn: duckdb.DuckDBPyConnection, table: str, partition: str, data_version: str
) -> bool:
    found = conn.execute(
        f"select count(*) from {VERSIONS} where asset = ? and partition = ? "
        "and data_version = ? and row_count = 0",
        [table.replace(".", "/"), partition, data_version],
    ).fetchall()
    return bool(found[0][0])


def as_json(value: Any) -> str:
    """Canonical JSON for the registry's JSON columns."""
    return json.dumps(value, sort_keys=True, default=str)


def refresh_catalog(conn: duckdb.DuckDBPyConnection, asset: str, rows: pl.DataFrame) -> None:
    """Replace the catalog rows of one feature table."""
    _catalog = rows  # noqa: F841 (read by name by DuckDB's replacement scan)
    conn.execute(f"create table if not exists {FEATURES} as select * from _catalog limit 0")
    conn.execute(f"delete from {FEATURES} where asset = ?", [asset])
    conn.execute(f"insert into {FEATURES} by name select * from _catalog")


@dataclass(frozen=True)
class Restored:
    """A rollback: the version that was current, the version restored, and the new version."""

    replaced: Version
    restored: Version
    version: int


def rollback(
    conn: duckdb.DuckDBPyConnection,
    asset: str,
    table: str,
    partition_column: str | None,
    partition: str,
    to_version: int | None,
    by: str,
    reason: str,
    keep: int,
) -> Restored:
    """Put back the rows of an earlier version of a partition, as a new version.

    ``to_version`` None restores the newest earlier version that passed its blocking checks and
    holds other rows than the current one. Runs inside the caller's transaction: the current
    rows are kept in history first, so a rollback can itself be rolled back.
    """
    found = versions(conn, asset, partition)
    where = f"{asset} partition {partition or '(unpartitioned)'}"
    if found.is_empty():
        raise RegistryError(f"{where}: no versions recorded")
    rows = list(found.iter_rows(named=True))  # newest first
    current = Version.from_row(rows[0])
    if to_version is None:
        earlier = [
            r for r in rows[1:] if r["checks_passed"] and r["data_version"] != current.data_version
        ]
        if not earlier:
            raise RegistryError(
                f"{where}: no earlier validated version with other rows than the current "
                f"version {current.version}"
            )
        target = earlier[0]
    else:
        matching = [r for r in rows if r["version"] == to_version]
        if not matching:
            known = ", ".join(str(r["version"]) for r in reversed(rows))
            raise RegistryError(f"{where}: no version {to_version} (versions: {known})")
        target = matching[0]
        if target["data_version"] == current.data_version:
            raise RegistryError(
                f"{where}: version {to_version} holds the same rows as the current version "
                f"{current.version}; nothing to restore"
            )
    restored = Version.from_row(target)
    frame = read_version(conn, table, partition_column, partition, restored.data_version, current)
    archive(conn, table, partition_column, {partition: current}, {partition: restored.data_version})
    day = dt.date.fromisoformat(partition) if partition_column else None
    write_rows(conn, table, frame, partition_column, (day, day) if day else None)
    new_row = {
        **{k: target[k] for k in _VERSION_COLUMNS if k not in ("asset", "version")},
        "run_id": None,
        "recorded_at": dt.datetime.now(dt.UTC),
        "action": "rollback",
        "restored_from": restored.version,
        "recorded_by": by,
        "reason": reason,
    }
    given = record(conn, asset, {partition: current}, [new_row])
    prune(conn, asset, table, partition_column, [partition], keep)
    return Restored(current, restored, given[partition])
