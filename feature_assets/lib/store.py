"""The feature store for ML code, without Dagster: features, versions and training sets as polars.

    from feature_assets.lib import store
    store.features()                                            # the catalog
    store.versions("aggregation/carrier_delay_7d", "2013-01-09")  # every version of a partition
    store.read_feature("aggregation/carrier_delay_7d", "2013-01-09", version=2)
    store.training_set(dt.date(2013, 1, 8), dt.date(2013, 1, 31))   # point-in-time, checked
    store.write_training_set(dt.date(2013, 1, 8), dt.date(2013, 1, 31), Path("train.parquet"))
    store.rebuild(Path("train.manifest.json"))                  # the same rows, from its versions

Reads the DuckDB warehouse of ``FEATURE_ASSETS_HOME`` read-only (while no run is writing: DuckDB
admits one writer process and a read-only opener waits for none).
"""

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from feature_assets.lib import audit, manifest, registry, settings
from feature_assets.lib.features import TRAINING_INPUTS, TrainingInput
from feature_assets.lib.registry import UNPARTITIONED, RegistryError
from feature_assets.lib.transforms import training
from feature_assets.lib.warehouse import PARTITION_EXPR, normalise, read_rows, table_exists

TRAINING_SET = "training/flight_delay_training_set"


class LeakageError(ValueError):
    """A training set would hold features not known at their prediction time."""


@contextmanager
def connect(home: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse."""
    path = settings.warehouse_path(home)
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `feature-assets demo` first")
    with duckdb.connect(str(path), read_only=True) as conn:
        yield conn


def features(home: Path | None = None) -> pl.DataFrame:
    """The feature catalog: name, asset, role, dtype, description, owners, entity, ttl, lineage."""
    with connect(home) as conn:
        if not table_exists(conn, registry.FEATURES):
            return pl.DataFrame()
        return conn.sql(f"select * from {registry.FEATURES} order by asset, name").pl()


def versions(
    asset: str | None = None, partition: str | None = None, home: Path | None = None
) -> pl.DataFrame:
    """Recorded versions (``registry.versions``), newest first per asset and partition."""
    with connect(home) as conn:
        return registry.versions(conn, asset, partition)


def _partition_column(asset: str) -> str | None:
    """The DATE column of a daily table, from its definition (None: unpartitioned)."""
    from feature_assets.definitions import defs

    spec = next(
        (s for s in defs.resolve_all_asset_specs() if s.key.to_user_string() == asset), None
    )
    if spec is None:
        raise KeyError(f"no asset {asset}")
    return spec.metadata.get(PARTITION_EXPR) if spec.partitions_def else None


def read_feature(
    asset: str, partition: str = UNPARTITIONED, version: int | None = None, home: Path | None = None
) -> pl.DataFrame:
    """The rows of one partition of an asset: its current version, or ``version``."""
    table = asset.replace("/", ".")
    column = _partition_column(asset)
    with connect(home) as conn:
        current = registry.current_versions(conn, asset, [partition]).get(partition)
        if version is None:
            if current is None:
                raise RegistryError(f"{asset} partition {partition or '(unpartitioned)'}: none")
            data_version = current.data_version
        else:
            found = registry.versions(conn, asset, partition).filter(pl.col("version") == version)
            if found.is_empty():
                raise RegistryError(f"{asset} partition {partition}: no version {version}")
            data_version = found["data_version"][0]
        return registry.read_version(conn, table, column, partition, data_version, current)


@dataclass(frozen=True)
class Read:
    """One training input's rows and the versions of the partitions they came from."""

    rows: pl.DataFrame
    versions: list[dict[str, Any]]


def _read_input(
    conn: duckdb.DuckDBPyConnection, source: TrainingInput, first: dt.date, last: dt.date
) -> Read:
    asset, table = source.key.to_user_string(), ".".join(source.key.path)
    dates = source.dates(first, last)
    rows = read_rows(conn, table, partition_column=source.partition_column, dates=dates)
    days = [dates[0] + dt.timedelta(days=i) for i in range((dates[1] - dates[0]).days + 1)]
    current = registry.current_versions(conn, asset, [d.isoformat() for d in days])
    return Read(
        rows,
        [
            {
                "asset": asset,
                "partition": p,
                "version": v.version,
                "data_version": v.data_version,
            }
            for p, v in sorted(current.items())
        ],
    )


def _read_recorded(
    conn: duckdb.DuckDBPyConnection, source: TrainingInput, recorded: Sequence[dict[str, Any]]
) -> pl.DataFrame:
    """The rows of exactly the versions a manifest recorded for one training input."""
    asset, table = source.key.to_user_string(), ".".join(source.key.path)
    mine = [r for r in recorded if r["asset"] == asset]
    current = registry.current_versions(conn, asset, [r["partition"] for r in mine])
    parts = [
        registry.read_version(
            conn,
            table,
            source.partition_column,
            r["partition"],
            r["data_version"],
            current.get(r["partition"]),
        )
        for r in mine
    ]
    if parts:
        return pl.concat(parts, how="vertical_relaxed")
    return normalise(conn.sql(f"select * from {table} limit 0").pl())  # none: no rows


def _build(inputs: dict[str, pl.DataFrame], lead: dt.timedelta) -> pl.DataFrame:
    rows = training.training_set(
        inputs["labels"].lazy(),
        inputs["weather"].lazy(),
        inputs["carrier_7d"].lazy(),
        inputs["route_28d"].lazy(),
        lead,
    ).collect()
    found = training.leaks(rows)
    if found.height:
        raise LeakageError(
            f"{found.height} features known after their prediction time, e.g. "
            f"{found.head(3).to_dicts()}"
        )
    return rows


def training_set_with_versions(
    first: dt.date, last: dt.date, lead: dt.timedelta = training.LEAD, home: Path | None = None
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """``training_set`` and the feature versions it read (asset, partition, version, data hash)."""
    with connect(home) as conn:  # one connection: the rows and their versions agree
        reads = {source.name: _read_input(conn, source, first, last) for source in TRAINING_INPUTS}
    rows = _build({name: read.rows for name, read in reads.items()}, lead)
    return rows, [v for read in reads.values() for v in read.versions]


def training_set(
    first: dt.date, last: dt.date, lead: dt.timedelta = training.LEAD, home: Path | None = None
) -> pl.DataFrame:
    """The flights of local days first..last with the features known ``lead`` before departure.

    The same rows the ``training/flight_delay_training_set`` asset publishes, built from the
    published feature tables; raises ``LeakageError`` if any feature was not known in time.
    """
    return training_set_with_versions(first, last, lead, home)[0]


def manifest_path(out: Path) -> Path:
    """``train.parquet`` -> ``train.manifest.json``."""
    return out.with_name(f"{out.stem}.manifest.json")


def _code_versions() -> dict[str, str]:
    from feature_assets.definitions import defs

    wanted = {TRAINING_SET, *(i.key.to_user_string() for i in TRAINING_INPUTS)}
    return {
        s.key.to_user_string(): s.code_version or ""
        for s in defs.resolve_all_asset_specs()
        if s.key.to_user_string() in wanted
    }


def write_training_set(
    first: dt.date,
    last: dt.date,
    out: Path,
    lead: dt.timedelta = training.LEAD,
    home: Path | None = None,
    by: str | None = None,
    reason: str = "training set built",
) -> dict[str, Any]:
    """Write a training set to ``out`` (parquet) with its signed manifest beside it; audited.

    Returns the manifest. Needs ``$FEATURE_ASSETS_SIGNING_KEY``.
    """
    key = manifest.signing_key()
    rows, read = training_set_with_versions(first, last, lead, home)
    aside = out.with_name(f".{out.name}.tmp")
    rows.write_parquet(aside)
    aside.replace(out)
    body = {
        "kind": manifest.KIND,
        "file": out.name,
        "rows": rows.height,
        "content_hash": registry.content_hash(rows),
        "first": first.isoformat(),
        "last": last.isoformat(),
        "lead_hours": lead.total_seconds() / 3600,
        "features": read,
        "code": {
            "feature_assets": registry.library_versions()["feature_assets"],
            "code_versions": _code_versions(),
        },
        "libraries": registry.library_versions(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "created_by": audit.who(by),
    }
    signed = manifest.sign(body, key)
    path = manifest_path(out)
    manifest.write(path, signed)
    audit.append(
        settings.audit_log_path(home),
        "training_set.published",
        str(out),
        reason,
        {
            "manifest": str(path),
            "rows": rows.height,
            "content_hash": body["content_hash"],
            "first": body["first"],
            "last": body["last"],
            "features_read": len(read),
        },
        by=by,
    )
    return signed


def verify(path: Path) -> list[str]:
    """What is wrong with a manifest (its signature) and its training-set file; empty if none."""
    return manifest.problems(path, manifest.signing_key())


def rebuild(path: Path, home: Path | None = None) -> tuple[pl.DataFrame, bool]:
    """Rebuild a training set from exactly the feature versions its manifest records.

    Returns the rows and whether their content hash equals the manifest's (it does unless the
    code changed how a training set is computed). The manifest's signature is checked first.
    """
    recorded = manifest.read(path)
    found = manifest.problems(path, manifest.signing_key())
    if any("signature" in p or "unsigned" in p for p in found):
        raise manifest.ManifestError("; ".join(found))
    with connect(home) as conn:
        inputs = {
            source.name: _read_recorded(conn, source, recorded["features"])
            for source in TRAINING_INPUTS
        }
    rows = _build(inputs, dt.timedelta(hours=float(recorded["lead_hours"])))
    return rows, registry.content_hash(rows) == recorded["content_hash"]


def audit_log(home: Path | None = None) -> pl.DataFrame:
    """The audit log's entries, oldest first."""
    entries = audit.entries(settings.audit_log_path(home))
    if not entries:
        return pl.DataFrame()
    return pl.DataFrame(
        [{**e, "details": json.dumps(e.get("details"), sort_keys=True)} for e in entries],
        infer_schema_length=None,
    )
