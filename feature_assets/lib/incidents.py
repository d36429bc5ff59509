"""Incidents: what a failed run was doing, for whom, and why it failed.

An incident names the failed run's assets and partitions, their owners, every step's error, and
its context: the run's parameters (config and tags) and, for each failed asset, when each of its
inputs was last materialised. Incidents are appended to ``<home>/incidents.jsonl``, hash-chained
like the audit log (``lib/audit.py``), by the ``incidents`` run-failure sensor.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
from dagster._core.event_api import AssetRecordsFilter

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MESSAGE_CHARS = 2_000


def partitions_of(run: dg.DagsterRun) -> str | None:
    """The partition or range a run covered, from its tags."""
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    if RANGE_START in tags:
        return f"{tags[RANGE_START]}..{tags[RANGE_END]}"
    return None


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None) -> str | None:
    wanted = [partition] if partition else None
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=wanted), limit=1
    ).records
    if not records:
        return None
    return dt.datetime.fromtimestamp(records[0].timestamp, dt.UTC).isoformat()


def incident(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    step_failures: Sequence[dg.DagsterEvent],
    assets: Iterable[dg.AssetsDefinition],
) -> dict[str, Any]:
    """The incident of a failed run (``assets``: the code location's asset definitions)."""
    by_op = {a.op.name: a for a in assets}
    daily = {key for a in by_op.values() if a.partitions_def for key in a.keys}
    partitions = partitions_of(run)
    last_day = partitions.split("..")[-1] if partitions else None
    failed: dict[dg.AssetKey, dg.AssetSpec] = {}
    errors = []
    for event in step_failures:
        data = event.step_failure_data
        error = data.error.cause if data.error and data.error.cause else data.error
        text = data.user_failure_data.description if data.user_failure_data else None
        text = text or (error.message if error else "failed")
        errors.append({"step": event.step_key, "error": str(text).strip()[:MESSAGE_CHARS]})
        assets_def = by_op.get(str(event.step_key))
        if assets_def is not None:
            failed |= {s.key: s for s in assets_def.specs if s.key in assets_def.keys}
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "assets": sorted(k.to_user_string() for k in run.asset_selection or failed),
        "failed_assets": sorted(k.to_user_string() for k in failed),
        "partitions": partitions,
        "owners": sorted({owner for spec in failed.values() for owner in spec.owners}),
        "errors": errors,
        "parameters": {
            "config": run.run_config,
            "tags": {k: v for k, v in run.tags.items() if not k.startswith(".dagster")},
        },
        "inputs_last_materialized": {
            key.to_user_string(): {
                dep.asset_key.to_user_string(): _latest(
                    instance, dep.asset_key, last_day if dep.asset_key in daily else None
                )
                for dep in sorted(spec.deps, key=lambda d: d.asset_key.to_user_string())
            }
            for key, spec in sorted(failed.items())
        },
    }
