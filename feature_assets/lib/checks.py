"""Quality gates: blocking checks that run on a partition's new rows before they are published.

Dagster commits an asset's output before separate checks run, so feature_assets validates inside
the asset: ``publish`` checks the new rows of every partition of the run against the asset's
contract, records one check result per partition (with what failed, where, and examples), and
hands the rows to the IO manager only when every partition passed. A failed gate leaves the
published rows as they were, fails the step, and Dagster skips the downstream steps.
"""

import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
import pandera.errors
import polars as pl
from dagster._check import CheckError
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.event_api import AssetRecordsFilter
from dagster._core.events import DagsterEventType

from feature_assets.lib import registry
from feature_assets.lib.partitions import daily_partitions
from feature_assets.lib.registry import UNPARTITIONED, Published
from feature_assets.lib.schemas import CONTRACTS, schema_of
from feature_assets.lib.warehouse import PARTITION_EXPR

CONTRACT = "contract"
EXAMPLES = 5


def describe(key: dg.AssetKey) -> str:
    """The contract in words, for the check's description in the UI."""
    schema = schema_of(CONTRACTS[key])
    lines = [f"pandera contract of {key.to_user_string()} (blocking):"]
    for name, column in schema.columns.items():
        rules = ["nullable" if column.nullable else "not null"]
        rules += ["unique"] if column.unique else []
        rules += [str(check.error or check.name) for check in column.checks]
        lines.append(f"- {name}: {column.dtype}, {', '.join(rules)}")
    if schema.unique:
        lines.append(f"- unique together: {', '.join(list(schema.unique))}")
    lines += [f"- {check.error or check.name}" for check in schema.checks or []]
    return "\n".join(lines)


def contract_spec(key: dg.AssetKey, partitioned: bool = True) -> dg.AssetCheckSpec:
    """The blocking contract check of an asset (one result per partition when partitioned)."""
    return dg.AssetCheckSpec(
        CONTRACT,
        asset=key,
        blocking=True,
        description=describe(key),
        partitions_def=daily_partitions if partitioned else None,
    )


def failure_cases(key: dg.AssetKey, frame: pl.DataFrame) -> pl.DataFrame:
    """Every way ``frame`` breaks its contract: column, check, failure_case, row index (or null)."""
    try:
        schema_of(CONTRACTS[key]).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        return errors.failure_cases.select(
            "column", "check", pl.col("failure_case").cast(pl.String), "index"
        )
    return pl.DataFrame(
        schema={
            "column": pl.String,
            "check": pl.String,
            "failure_case": pl.String,
            "index": pl.Int32,
        }
    )


def _evaluation(
    key: dg.AssetKey,
    partition: str | None,
    failures: pl.DataFrame,
    frame: pl.DataFrame,
    rows: int,
) -> AssetCheckEvaluation:
    """The contract result of one partition; ``failures`` index rows of the whole ``frame``."""
    metadata: dict[str, Any] = {"partition": partition or "(unpartitioned)", "rows": rows}
    if failures.height:
        by_rule = failures.group_by("column", "check", maintain_order=True).agg(
            failures=pl.len(), observed=pl.col("failure_case").head(3)
        )
        metadata |= {
            "failures": failures.height,
            "rules": dg.MetadataValue.md(
                "| column | rule | failures | observed |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {r['column'] or '(table)'} | {r['check']} | {r['failures']} | "
                    f"{', '.join(map(str, r['observed']))} |"
                    for r in by_rule.iter_rows(named=True)
                )
            ),
        }
        indexes = failures["index"].drop_nulls().unique().sort().head(EXAMPLES).to_list()
        if indexes:
            examples = frame[indexes].to_dicts()
            metadata["examples"] = dg.MetadataValue.json(
                json.loads(json.dumps(examples, default=str))
            )
    first = failures.row(0, named=True) if failures.height else None
    description = (
        f"{key.to_user_string()} partition {partition}: {failures.height} contract failures, "
        f"first: column {first['column'] or '(table)'} rule {first['check']} "
        f"observed {first['failure_case']}"
        if first
        else None
    )
    return AssetCheckEvaluation(
        asset_key=key,
        check_name=CONTRACT,
        passed=failures.height == 0,
        metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        blocking=True,
        partition=partition,
    )


def gate(
    key: dg.AssetKey,
    frame: pl.DataFrame,
    partition_column: str | None,
    partition_keys: Sequence[str],
) -> list[AssetCheckEvaluation]:
    """One contract result per partition key (or one for an unpartitioned table).

    A failure tied to a row counts against that row's partition; a failure of the whole table
    (a missing column, a wrong type) counts against every partition of the run. Linear in the
    rows: only the failing rows are located.
    """
    failures = failure_cases(key, frame)
    if partition_column is None:
        return [_evaluation(key, None, failures, frame, frame.height)]
    # group by the day, then name the few days (formatting every row would cost seconds)
    days = frame.group_by(pl.col(partition_column).dt.date()).len()
    rows = {day.isoformat(): n for day, n in days.iter_rows() if day is not None}
    at_rows = failures["index"].drop_nulls().unique()
    partition_of = dict(
        zip(
            at_rows.to_list(),
            frame[partition_column].gather(at_rows).dt.strftime("%Y-%m-%d").to_list(),
            strict=True,
        )
    )
    located = failures.with_columns(
        _partition=pl.col("index").replace_strict(
            partition_of, default=None, return_dtype=pl.String
        )
    )
    by_partition = located.partition_by("_partition", as_dict=True, include_key=False)
    everywhere = by_partition.get((None,), failures.clear())
    return [
        _evaluation(
            key,
            partition,
            pl.concat([by_partition.get((partition,), failures.clear()), everywhere]),
            frame,
            rows.get(partition, 0),
        )
        for partition in partition_keys
    ]


def blocks(evaluation: AssetCheckEvaluation) -> bool:
    """True for a failed blocking check of ERROR severity (WARN reports, never blocks)."""
    return (
        not evaluation.passed
        and bool(evaluation.blocking)
        and evaluation.severity == dg.AssetCheckSeverity.ERROR
    )


def held_back(
    context: dg.AssetExecutionContext, key: dg.AssetKey, partitions: Sequence[str | None]
) -> dict[dg.AssetKey, list[str]]:
    """Every downstream asset partition that reads ``partitions`` of ``key``, directly or not.

    Follows the partition mappings (a day of flights_clean holds back 28 days of
    route_delay_28d); these partitions are not computed while the partitions stay failed.
    """
    try:  # the code location's graph: the job of a sensor's run holds only what it selected
        graph = context.repository_def.asset_graph
    except CheckError:  # dg.materialize runs without a repository; its job holds every asset
        graph = context.job_def.asset_layer.asset_graph
    seen: set[tuple[dg.AssetKey, str | None]] = set()
    frontier = [(key, partition) for partition in partitions]
    while frontier:
        parent, partition = frontier.pop()
        for child in graph.get_children_partitions(parent, partition):
            if (child.asset_key, child.partition_key) not in seen:
                seen.add((child.asset_key, child.partition_key))
                frontier.append((child.asset_key, child.partition_key))
    held: dict[dg.AssetKey, list[str]] = {}
    for child_key, partition in sorted(seen, key=lambda kp: (kp[0].to_user_string(), kp[1] or "")):
        held.setdefault(child_key, []).append(partition or "(unpartitioned)")
    return held


def _spans(partitions: Sequence[str]) -> str:
    """Daily keys as runs of consecutive days: 2013-03-10..2013-03-16 (7)."""
    days = sorted(dt.date.fromisoformat(p) for p in partitions if p != "(unpartitioned)")
    spans: list[list[dt.date]] = []
    for day in days:
        if spans and day - spans[-1][-1] == dt.timedelta(days=1):
            spans[-1].append(day)
        else:
            spans.append([day])
    return (
        ", ".join(f"{s[0]}..{s[-1]} ({len(s)})" if len(s) > 1 else str(s[0]) for s in spans)
        or "(unpartitioned)"
    )


def held_back_metadata(
    context: dg.AssetExecutionContext, key: dg.AssetKey, partitions: Sequence[str | None]
) -> dict[str, Any]:
    """What a failed gate on ``partitions`` of ``key`` keeps from being computed, for the UI."""
    held = held_back(context, key, partitions)
    count = sum(len(p) for p in held.values())
    return {
        "held_back_summary": f"Held back: {count} downstream asset partitions (see held_back)."
        if count
        else "Nothing downstream reads it.",
        "held_back_partitions": count,
        "held_back": dg.MetadataValue.md(
            "| downstream asset | partitions held back |\n|---|---|\n"
            + "\n".join(f"| {k.to_user_string()} | {_spans(p)} |" for k, p in held.items())
            if held
            else "nothing downstream"
        ),
    }


def _latest_materializations(
    context: dg.AssetExecutionContext, key: dg.AssetKey, partitions: Sequence[str | None]
) -> dict[str | None, AssetCheckEvaluationTargetMaterializationData]:
    """The latest materialisation of each partition of ``key``.

    The event log's index gives each partition's latest storage id; the records are then fetched
    by id, in batches under the event log's 10,000-record limit (a run over years of days).
    """
    instance = context.instance
    if any(p is None for p in partitions):  # unpartitioned
        records = instance.fetch_materializations(key, limit=1).records
    else:
        ids = instance.event_log_storage.get_latest_storage_id_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, partitions={str(p) for p in partitions}
        )
        by_id = sorted(ids.values())
        records = [
            record
            for start in range(0, len(by_id), TARGET_BATCH)
            for record in instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, storage_ids=by_id[start : start + TARGET_BATCH]),
                limit=TARGET_BATCH,
            ).records
        ]
    return {
        record.partition_key: AssetCheckEvaluationTargetMaterializationData(
            run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
        )
        for record in records
    }


TARGET_BATCH = 5_000


def _finished(
    context: dg.AssetExecutionContext, evaluations: Sequence[AssetCheckEvaluation]
) -> Iterator[AssetCheckEvaluation]:
    """Each result tied to the materialisation it judged, and a failed gate's held-back list.

    The target is the partition's latest materialisation: the one just published when the gate
    passed, the previous good one when it blocked. Dagster and automation's ``check_passed``
    count a result only for the materialisation it targets.
    """
    targets: dict[dg.AssetKey, dict] = {}
    for evaluation in evaluations:
        key = evaluation.asset_key
        if key not in targets:
            partitions = [e.partition for e in evaluations if e.asset_key == key]
            targets[key] = _latest_materializations(context, key, partitions)
        extra = (
            held_back_metadata(context, key, [evaluation.partition]) if blocks(evaluation) else {}
        )
        yield AssetCheckEvaluation(
            asset_key=key,
            check_name=evaluation.check_name,
            passed=evaluation.passed,
            metadata={**evaluation.metadata, **extra},
            target_materialization_data=targets[key].get(evaluation.partition),
            severity=evaluation.severity,
            description=f"{evaluation.description} {extra['held_back_summary']}"
            if extra
            else evaluation.description,
            blocking=evaluation.blocking,
            partition=evaluation.partition,
        )


def _results(
    evaluations: Sequence[AssetCheckEvaluation], key: dg.AssetKey
) -> dict[str, dict[str, str]]:
    """Each partition's check results for the registry: ``passed`` or ``failed (SEVERITY)``."""
    results: dict[str, dict[str, str]] = {}
    for e in evaluations:
        if e.asset_key == key:
            outcome = "passed" if e.passed else f"failed ({e.severity.value})"
            results.setdefault(e.partition or UNPARTITIONED, {})[e.check_name] = outcome
    return results


def dagster_data_version(hashes: dict[str, str]) -> dg.DataVersion:
    """The data version Dagster records: the partition's content hash.

    A run over a range records one data version for all its partitions; it then names the range
    and a digest of the partitions' hashes (each partition's own is its ``data_version``
    metadata and its registry row).
    """
    if len(hashes) == 1:
        return dg.DataVersion(next(iter(hashes.values())))
    keys = sorted(hashes)
    digest = hashlib.sha256("".join(f"{k}={hashes[k]}\n" for k in keys).encode()).hexdigest()
    return dg.DataVersion(f"{len(keys)} partitions {keys[0]}..{keys[-1]}: {digest[:16]}")


def audit_failure(
    context: dg.AssetExecutionContext,
    key: dg.AssetKey,
    partitions: Sequence[str | None],
    reason: str,
    details: Mapping[str, Any],
) -> None:
    """A ``gate.failed`` entry in the audit log: ``partitions`` of ``key`` were held back."""
    io_manager = getattr(context.resources, "io_manager", None)
    if not hasattr(io_manager, "audit"):
        return  # another IO manager: no audit log to write to
    days = [p for p in partitions if p]
    subject = f"{key.to_user_string()} {_spans(days)}" if days else key.to_user_string()
    io_manager.audit(  # pyright: ignore[reportOptionalMemberAccess]
        "gate.failed", subject, reason, {"run_id": context.run.run_id, **details}
    )


def _audit_blocked(
    context: dg.AssetExecutionContext,
    evaluations: Sequence[AssetCheckEvaluation],
    hashes: dict[dg.AssetKey, dict[str, str]],
) -> None:
    """One audit entry per asset whose partitions a blocking gate held back."""
    by_key: dict[dg.AssetKey, list[AssetCheckEvaluation]] = {}
    for e in evaluations:
        if blocks(e):
            by_key.setdefault(e.asset_key, []).append(e)
    for key, failed in by_key.items():
        audit_failure(
            context,
            key,
            sorted({e.partition or UNPARTITIONED for e in failed}),
            failed[0].description or f"blocking check {failed[0].check_name} failed",
            {
                "failed": [
                    {
                        "partition": e.partition,
                        "check": e.check_name,
                        "description": e.description,
                        "rejected_data_version": hashes.get(key, {}).get(
                            e.partition or UNPARTITIONED
                        ),
                    }
                    for e in failed[:AUDITED_FAILURES]
                ],
                "failures": len(failed),
            },
        )


AUDITED_FAILURES = 50
"""At most this many failed partitions are itemised in one audit entry (all are counted)."""


def publish(
    context: dg.AssetExecutionContext,
    frames: dict[dg.AssetKey, pl.DataFrame],
    gates: Sequence[AssetCheckEvaluation] = (),
    sources: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
) -> Iterator[dg.Output | AssetCheckEvaluation]:
    """Gate new rows on their contracts and on ``gates``; hand them on only if nothing blocks.

    ``gates`` are further check results the asset has already evaluated (e.g. volume);
    ``sources`` the landing files each partition was read from (for the registry). The rows go
    to the IO manager as ``Published``, with each partition's content hash (its data version)
    and check results; a blocked partition is written to the audit log instead.
    """
    assets_def = context.assets_def
    check_outputs = {spec.key: name for name, spec in assets_def.check_specs_by_output_name.items()}
    partition_keys = context.partition_keys if assets_def.partitions_def else []
    evaluations = list(gates)
    hashes: dict[dg.AssetKey, dict[str, str]] = {}
    for key, frame in frames.items():
        spec = assets_def.specs_by_key[key]
        partition_column = spec.metadata.get(PARTITION_EXPR) if assets_def.partitions_def else None
        evaluations += gate(key, frame, partition_column, partition_keys)
        hashes[key] = registry.partition_hashes(
            frame, partition_column, partition_keys or [UNPARTITIONED]
        )
    if not any(blocks(evaluation) for evaluation in evaluations):
        # published first, so that the results below are about this materialisation: Dagster
        # (and automation's check_passed) judges the latest materialisation by them
        config = context.op_execution_context.op_config or {}
        for key, frame in frames.items():
            with warnings.catch_warnings():  # Output's data_version is a beta parameter
                warnings.simplefilter("ignore", dg.BetaWarning)
                output = dg.Output(
                    Published(
                        frame, hashes[key], _results(evaluations, key), config, sources or {}
                    ),
                    output_name=assets_def.get_output_name_for_asset_key(key),
                    data_version=dagster_data_version(hashes[key]),
                )
            yield output
    else:
        _audit_blocked(context, evaluations, hashes)
    yield from _finished(context, evaluations)
    for check_key in {evaluation.asset_check_key for evaluation in evaluations}:
        yield dg.Output(None, output_name=check_outputs[check_key])
