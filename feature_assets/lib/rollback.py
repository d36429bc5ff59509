"""Rolling a partition back to an earlier version, as a Dagster run that automation follows.

The ``rollback`` job (``defs/feature_store.py``; ``feature-assets rollback`` launches it, or the
UI's launchpad with a config) has two steps:

1. ``restore`` puts back the rows of the version (``registry.rollback``, one warehouse
   transaction), writes the audit entry (who, why, which versions), and records a materialisation
   of the partition whose data version is the restored rows' content hash;
2. ``vouch`` records, for that materialisation, a passed result of each blocking check of the
   asset: the restored version passed them when it was published.

Automation then sees a fresh, healthy upstream partition and recomputes the partitions downstream
that read it, as it does for a corrected file; the rolled-back partition itself is not recomputed
(its latest update is the rollback).
"""

from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.event_api import AssetRecordsFilter
from pydantic import Field

from feature_assets.lib import audit, registry
from feature_assets.lib.registry import UNPARTITIONED
from feature_assets.lib.warehouse import PARTITION_EXPR, table_name, transaction

ROLLBACK_JOB = "rollback"


class RollbackConfig(dg.Config):
    """What to roll back, to which version, who asks and why."""

    asset: str = Field(description="asset key, e.g. cleansing/flights_clean")
    partition: str = Field(default="", description="the day, for a partitioned asset")
    to_version: int | None = Field(
        default=None, description="the version to restore (default: the last validated one)"
    )
    reason: str = Field(description="why: kept in the audit log")
    by: str = Field(default="", description="who (default: the OS user of the run)")


def _assets_def(key: dg.AssetKey) -> dg.AssetsDefinition | None:
    """The code location's definition of ``key`` (a job run outside a repository has none)."""
    from feature_assets.definitions import defs

    return defs.resolve_assets_def(key) if key in defs.resolve_all_asset_keys() else None


def _target(config: RollbackConfig) -> dg.AssetsDefinition:
    key = dg.AssetKey.from_user_string(config.asset)
    assets_def = _assets_def(key)
    if assets_def is None:
        raise dg.Failure(f"no asset {config.asset}", allow_retries=False)
    partitions_def = assets_def.partitions_def
    if partitions_def is not None and not config.partition:
        raise dg.Failure(f"{config.asset} is partitioned: give the partition", allow_retries=False)
    if partitions_def is not None and not partitions_def.has_partition_key(config.partition):
        raise dg.Failure(f"{config.asset} has no partition {config.partition}", allow_retries=False)
    return assets_def


STEP_OUTPUTS = "step_outputs"
"""The steps hand each other a small dict in memory (``lib/resources.py``), not through the
warehouse's IO manager."""


@dg.op(required_resource_keys={"duckdb", "io_manager"}, out=dg.Out(io_manager_key=STEP_OUTPUTS))
def restore(context: dg.OpExecutionContext, config: RollbackConfig) -> dict[str, Any]:
    """Put the rows of the version back, audit it, and record the partition's materialisation."""
    assets_def = _target(config)
    key = dg.AssetKey.from_user_string(config.asset)
    partition = config.partition if assets_def.partitions_def is not None else UNPARTITIONED
    column = assets_def.specs_by_key[key].metadata.get(PARTITION_EXPR) if partition else None
    io_manager = context.resources.io_manager
    who = audit.who(config.by or None)
    try:
        with context.resources.duckdb.get_connection() as conn, transaction(conn):
            registry.ensure(conn)
            done = registry.rollback(
                conn,
                config.asset,
                table_name(key),
                column,
                partition,
                config.to_version,
                who,
                config.reason,
                io_manager.keep_versions,
            )
    except registry.RegistryError as e:
        raise dg.Failure(str(e), allow_retries=False) from e
    entry = io_manager.audit(
        "rollback",
        f"{config.asset} {partition or '(unpartitioned)'}".strip(),
        config.reason,
        {
            "run_id": context.run_id,
            "from_version": done.replaced.version,
            "from_data_version": done.replaced.data_version,
            "to_version": done.restored.version,
            "data_version": done.restored.data_version,
            "new_version": done.version,
        },
        by=who,
    )
    version = done.restored
    context.log_event(
        dg.AssetMaterialization(
            asset_key=key,
            partition=partition or None,
            description=f"rolled back to version {version.version} by {who}: {config.reason}",
            metadata={
                "version": done.version,
                "data_version": version.data_version,
                "restored_from_version": version.version,
                "replaced_version": done.replaced.version,
                "dagster/row_count": version.row_count,
                "rolled_back_by": who,
                "reason": config.reason,
                "audit_entry": entry["seq"],
            },
            tags={DATA_VERSION_TAG: version.data_version},
        )
    )
    context.log.info(
        f"{config.asset} {partition}: version {done.replaced.version} replaced by the rows of "
        f"version {version.version} (now version {done.version}); audit entry {entry['seq']}"
    )
    return {
        "asset": config.asset,
        "partition": partition,
        "replaced": done.replaced.version,
        "restored": version.version,
        "version": done.version,
        "data_version": version.data_version,
        "published_at": version.recorded_at.isoformat(),
        "audit_entry": entry["seq"],
    }


@dg.op(out=dg.Out(io_manager_key=STEP_OUTPUTS))
def vouch(context: dg.OpExecutionContext, restored: dict[str, Any]) -> dict[str, Any]:
    """Record the blocking checks of the restored materialisation as passed (they were)."""
    key = dg.AssetKey.from_user_string(restored["asset"])
    assets_def = _assets_def(key)
    assert assets_def is not None
    partition = restored["partition"] or None
    (record,) = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
        limit=1,
    ).records
    assert record.run_id == context.run_id, "the restore's materialisation is the latest"
    target = AssetCheckEvaluationTargetMaterializationData(
        run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
    )
    for spec in assets_def.check_specs:
        if spec.asset_key != key or not spec.blocking:
            continue
        context.log_event(  # log_event takes check evaluations; its type hint does not say so
            AssetCheckEvaluation(  # pyright: ignore[reportArgumentType]
                asset_key=key,
                check_name=spec.name,
                passed=True,
                metadata={
                    "restored_version": restored["restored"],
                    "passed_when_published": restored["published_at"],
                },
                target_materialization_data=target,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    f"restored version {restored['restored']}, which passed {spec.name} when it "
                    f"was published ({restored['published_at'][:16]} UTC)"
                ),
                blocking=True,
                partition=partition,
            )
        )
    return restored


@dg.job(
    name=ROLLBACK_JOB,
    description="Restore the last validated (or a named) version of an asset partition; audited. "
    "Automation then recomputes what reads it. Also `feature-assets rollback`.",
    tags={"feature_assets/kind": "rollback"},
    executor_def=dg.in_process_executor,
)
def rollback_job() -> None:
    """restore, then vouch for its checks."""
    vouch(restore())
