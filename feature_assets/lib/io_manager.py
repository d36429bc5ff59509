"""The IO manager: each asset is the DuckDB table ``<tier>.<name>``, every write registered.

One transaction per output: the rows of the partitions about to change are kept in their history
table, the run's partitions are replaced, and a version per partition is recorded in the registry
(``lib/registry.py``) with what it read. A failure or a crash mid-write leaves all of it as it
was. Inputs are read for the window their partition mapping gives, limited to the columns named
in the ``AssetIn`` metadata key ``columns``; the versions read are remembered for the registry.
"""

import datetime as dt
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from feature_assets.lib import audit, registry, settings
from feature_assets.lib.features import FEATURE_TABLES, catalog_rows
from feature_assets.lib.lineage import column_lineage, with_sources
from feature_assets.lib.partitions import window_dates
from feature_assets.lib.registry import UNPARTITIONED, Published
from feature_assets.lib.warehouse import (
    PARTITION_EXPR,
    WarehouseDatabase,
    column_schema,
    metadata_by_partition,
    read_rows,
    row_metadata,
    table_name,
    transaction,
    write_rows,
)

ReadVersions = dict[tuple[str, str], registry.Version | None]


def _outside_error(table: str, column: str, dates: tuple[dt.date, dt.date], frame: pl.DataFrame):
    outside = frame.filter(~pl.col(column).is_between(*dates))
    if outside.height:
        raise dg.Failure(
            f"{table}: {outside.height} rows have {column} outside the run's partitions "
            f"{dates[0]}..{dates[1]}, e.g. {outside.get_column(column).head(3).to_list()}",
            allow_retries=False,
        )


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as DuckDB tables ``<tier>.<name>``, one atomic write per run.

    ``keep_versions``: how many superseded versions of each partition keep their rows (for
    rollback and exact rebuilds). ``audit_log``: the audit log file gate failures are written to.
    """

    database: dg.ResourceDependency[WarehouseDatabase]
    audit_log: str
    keep_versions: int = settings.DEFAULT_KEEP_VERSIONS
    _read: dict[str, ReadVersions] = PrivateAttr(default_factory=dict)

    @contextmanager
    def _connection(self):
        with self.database.get_connection() as conn:
            yield conn

    def audit(
        self,
        action: str,
        subject: str,
        reason: str,
        details: dict[str, Any],
        by: str | None = None,
    ) -> dict[str, Any]:
        """Append an entry to the audit log (e.g. a gate that held a partition back)."""
        return audit.append(Path(self.audit_log), action, subject, reason, details, by=by)

    def handle_output(
        self, context: dg.OutputContext, obj: Published | pl.DataFrame | pl.LazyFrame | None
    ):
        """Write the asset's rows and register their versions, in one transaction."""
        if obj is None:
            return
        key = context.asset_key
        table = table_name(key)
        partition_column: str | None = None
        dates = None
        partitions = [UNPARTITIONED]
        if context.has_asset_partitions:
            partition_column = context.definition_metadata.get(PARTITION_EXPR)
            if not partition_column:
                raise dg.DagsterInvariantViolationError(
                    f"{table} is partitioned: set metadata {{'{PARTITION_EXPR}': <DATE column>}}"
                )
            dates = window_dates(context.asset_partitions_time_window)
            partitions = list(context.asset_partition_keys)
        if not isinstance(obj, Published):  # an asset that returns rows without `publish`
            frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
            obj = Published(frame, registry.partition_hashes(frame, partition_column, partitions))
        frame = obj.frame
        if partition_column is not None and dates is not None:
            _outside_error(table, partition_column, dates, frame)
        metadata = (
            metadata_by_partition(frame, partition_column, partitions)
            if partition_column
            else {UNPARTITIONED: row_metadata(frame)}
        )
        node = context.step_context.job_def.asset_layer.asset_graph.get(key)
        code_version = node.code_version or ""
        inputs = self._inputs_of(context, partitions)
        schema = {name: str(dtype) for name, dtype in frame.schema.items()}
        now = dt.datetime.now(dt.UTC)
        rows = [
            {
                "partition": p,
                "data_version": obj.data_versions[p],
                "code_version": code_version,
                "inputs": registry.as_json([*inputs[p], *obj.sources.get(p, [])]),
                "row_count": metadata[p]["dagster/row_count"],
                "table_schema": registry.as_json(schema),
                "libraries": registry.as_json(registry.library_versions()),
                "config": registry.as_json(obj.config),
                "run_id": context.run_id,
                "recorded_at": now,
                "checks_passed": not any(
                    result == "failed (ERROR)" for result in obj.checks.get(p, {}).values()
                ),
                "checks": registry.as_json(obj.checks.get(p, {})),
                "action": "materialization",
            }
            for p in partitions
        ]
        asset = key.to_user_string()
        with self._connection() as conn, transaction(conn):
            registry.ensure(conn)
            current = registry.current_versions(conn, asset, partitions)
            registry.archive(conn, table, partition_column, current, obj.data_versions)
            write_rows(conn, table, frame, partition_column, dates)
            given = registry.record(conn, asset, current, rows)
            registry.prune(conn, asset, table, partition_column, partitions, self.keep_versions)
            if key in FEATURE_TABLES:
                catalog = catalog_rows(
                    FEATURE_TABLES[key], node.owners, node.parent_keys, code_version
                )
                registry.refresh_catalog(conn, asset, catalog)
        context.add_output_metadata(
            {
                "dagster/column_schema": with_sources(column_schema(frame, key), key),
                "dagster/table_name": table,
                **column_lineage(key),
            }
        )
        for p in partitions:
            facts = {
                **metadata[p],
                "version": given[p],
                "data_version": obj.data_versions[p],
                "inputs_read": len(inputs[p]),
            }
            if p == UNPARTITIONED:
                context.add_output_metadata(facts)
            else:  # a run over a range materialises each day: each gets its own rows' numbers
                context.step_context.add_asset_metadata(facts, asset_key=key, partition_key=p)

    def _inputs_of(
        self, context: dg.OutputContext, partitions: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """For each partition written, the upstream partitions it reads and the versions read."""
        read = self._read.get(context.step_key, {})
        graph = context.step_context.job_def.asset_layer.asset_graph
        key = context.asset_key
        result = {}
        for p in partitions:
            parents = graph.get_parents_partitions(key, p or None).parent_partitions
            found = []
            for parent in parents:
                name = parent.asset_key.to_user_string()
                where = parent.partition_key or UNPARTITIONED
                if (name, where) not in read:
                    continue  # not an input of this step (e.g. a dependency without AssetIn)
                version = read[(name, where)]
                found.append(
                    {
                        "asset": name,
                        "partition": where,
                        "version": version.version if version else None,
                        "data_version": version.data_version if version else None,
                    }
                )
            result[p] = sorted(found, key=lambda i: (i["asset"], i["partition"]))
        return result

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        """Read the upstream table for the partitions the input's mapping asks for."""
        upstream = context.upstream_output
        assert upstream is not None
        key = context.asset_key
        table = table_name(key)
        columns = (context.definition_metadata or {}).get("columns")
        partition_column = None
        dates = None
        partitions = [UNPARTITIONED]
        if context.has_asset_partitions:
            partition_column = (upstream.definition_metadata or {}).get(PARTITION_EXPR)
            dates = window_dates(context.asset_partitions_time_window)
            partitions = list(context.asset_partition_keys)
        asset = key.to_user_string()
        with self._connection() as conn:
            frame = read_rows(conn, table, columns, partition_column, dates)
            current = registry.current_versions(conn, asset, partitions)
        step = context.step_context.step.key
        self._read.setdefault(step, {}).update({(asset, p): current.get(p) for p in partitions})
        wants_lazy = context.dagster_type.typing_type is pl.LazyFrame
        return frame.lazy() if wants_lazy else frame
