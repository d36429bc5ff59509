"""When automation recomputes a partition: one condition for every feature asset, and its breaker.

Stock ``AutomationCondition.eager()`` only requests the latest time window, has no gate on
upstream checks, and its ``.since_last_handled()`` over an ``|`` of triggers can drop an upstream
update that lands on the tick right after a request (see DAGSTER_NOTES.md). ``feature_condition``
is composed from Dagster's building blocks instead:

    requested = triggered & ready & breaker closed

    triggered: for ANY partition (not only the latest window), one of
        - an upstream partition it reads (through its partition mapping) was updated, by a run
          that did not also update this partition (stock ``any_deps_updated``),
        - the partition became missing (a new day),
        - the asset's code_version changed,
      after the partition was last requested, and still true until the partition is updated;
      each trigger is its own timed ``since`` chain, so ties between ticks are not lost.
    ready: every upstream partition it reads exists, none is in progress, and every one of them
      passed its blocking checks (the negated ``any_deps_match``: EVERY mapped partition, so one
      failed day holds back every 7- and 28-day window that contains it); the partition itself
      is not in progress.
    breaker closed: the partition has not failed ``threshold`` times in a row (``BreakerClosed``).

A triggered partition stays due until it is updated: a run that fails is requested again on the
next ticks (a transient failure heals by itself), and after ``threshold`` consecutive failures
the breaker holds it back until ``feature-assets breaker reset`` or a successful manual run.
Nothing else recomputes.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.asset_graph_view.entity_subset import EntitySubset
from dagster._core.definitions.declarative_automation.automation_context import AutomationContext
from dagster._core.event_api import EventRecordsFilter
from dagster._core.events import DagsterEventType

AC = dg.AutomationCondition

BREAKER_THRESHOLD = 3
BREAKER_RESET = "feature_assets/breaker_reset"
"""Metadata key of the observation `feature-assets breaker reset` records."""


def _after_last_handled(trigger: dg.AutomationCondition, label: str) -> dg.AutomationCondition:
    """``trigger`` happened after the partition was last requested, and after it was updated."""
    return trigger.since(AC.newly_requested()).since(AC.newly_updated()).with_label(label)


def _blocking_check_failed() -> dg.AutomationCondition:
    return AC.any_checks_match(~(AC.check_passed() | AC.will_be_requested()), blocking_only=True)


@dataclass(frozen=True)
class OpenPartition:
    """A partition whose breaker is open: its consecutive failures and the last one's run."""

    partition: str | None
    failures: int
    last_run_id: str


def _attempts(
    instance: dg.DagsterInstance, key: dg.AssetKey, limit: int = 500
) -> list[tuple[int, str, frozenset[str | None]]]:
    """Recent attempts to materialise ``key``, newest first: (storage id, run id, partitions).

    An attempt is Dagster's "materialisation planned" event, one per run (a range run plans its
    whole range at once).
    """
    records = instance.event_log_storage.get_event_records(
        EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=key),
        limit=limit,
    )
    attempts = []
    for record in records:
        event = record.event_log_entry.dagster_event
        planned = event.event_specific_data if event else None
        subset = getattr(planned, "partitions_subset", None)
        partitions = (
            frozenset(subset.get_partition_keys())
            if subset is not None
            else frozenset([record.partition_key])
        )
        attempts.append((record.storage_id, record.run_id, partitions))
    return attempts


def open_partitions(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partitions: Iterable[str | None],
    threshold: int = BREAKER_THRESHOLD,
) -> list[OpenPartition]:
    """The partitions of ``key`` among ``partitions`` whose last ``threshold`` attempts failed.

    Counted from Dagster's own records: the runs that planned to materialise the partition, newest
    first, up to the last one that succeeded (a successful manual run closes the breaker) or the
    last ``breaker reset`` of the asset. Runs still going are skipped.
    """
    wanted = set(partitions)
    attempts = [a for a in _attempts(instance, key) if a[2] & wanted]
    if len(attempts) < threshold:
        return []
    runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list({a[1] for a in attempts})))
    status = {run.run_id: run.status for run in runs}
    reset_after = _last_reset(instance, key)
    result = []
    for partition in sorted(wanted, key=str):
        streak: list[str] = []
        for storage_id, run_id, planned in attempts:
            if partition not in planned:
                continue
            if storage_id <= reset_after or status.get(run_id) == dg.DagsterRunStatus.SUCCESS:
                break
            if status.get(run_id) == dg.DagsterRunStatus.FAILURE:
                streak.append(run_id)
        if len(streak) >= threshold:
            result.append(OpenPartition(partition, len(streak), streak[0]))
    return result


def _last_reset(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    observations = instance.fetch_observations(key, limit=100).records
    resets = [
        r.storage_id
        for r in observations
        if r.asset_observation and BREAKER_RESET in r.asset_observation.metadata
    ]
    return max(resets, default=0)


def reset_breaker(
    instance: dg.DagsterInstance, key: dg.AssetKey, who: str, reason: str
) -> list[OpenPartition]:
    """Close the breaker of every partition of ``key``; returns the partitions that were open."""
    was_open = open_partitions(instance, key, attempted_partitions(instance, key))
    instance.report_runless_asset_event(
        dg.AssetObservation(
            asset_key=key,
            metadata={
                BREAKER_RESET: dt.datetime.now(dt.UTC).isoformat(),
                "reset_by": who,
                "reason": reason,
                "partitions_closed": ", ".join(str(p.partition) for p in was_open) or "none",
            },
        )
    )
    return was_open


def attempted_partitions(instance: dg.DagsterInstance, key: dg.AssetKey) -> set[str | None]:
    """The partitions of ``key`` that recent runs planned to materialise."""
    return {p for _, _, planned in _attempts(instance, key) for p in planned}


class BreakerClosed(dg.AutomationCondition):
    """True for the candidate partitions that have not failed ``threshold`` times in a row.

    An open breaker is said three times: in this condition's evaluation in the UI (its label
    and metadata), in the automation sensor's log, and by ``feature-assets breaker status``.
    """

    def __init__(self, threshold: int = BREAKER_THRESHOLD) -> None:
        self.threshold = threshold

    @property
    def name(self) -> str:
        """The label shown in the UI's evaluation tree."""
        return f"breaker_closed (opens after {self.threshold} consecutive failures)"

    @property
    def requires_cursor(self) -> bool:
        """Stateless: reads the failures from the instance every tick."""
        return False

    def evaluate(self, context: AutomationContext) -> dg.AutomationResult:  # pyright: ignore[reportIncompatibleMethodOverride]
        """Drop the candidates whose breaker is open."""
        candidates: EntitySubset = context.candidate_subset
        if candidates.is_empty:
            return dg.AutomationResult(context, candidates)
        key = context.key
        assert isinstance(key, dg.AssetKey)
        partitions: Sequence[str | None] = (
            list(candidates.expensively_compute_partition_keys())
            if candidates.is_partitioned
            else [None]
        )
        instance = context.asset_graph_view.instance
        opened = open_partitions(instance, key, partitions, self.threshold)
        if not opened:
            return dg.AutomationResult(context, candidates)
        for p in opened:
            context.log.warning(
                f"circuit breaker open for {key.to_user_string()} partition {p.partition}: "
                f"{p.failures} consecutive failures (last run {p.last_run_id}); not requested "
                f"until `feature-assets breaker reset {key.to_user_string()}` or a successful run"
            )
        closed = [p for p in partitions if p not in {o.partition for o in opened}]
        true_subset = (
            candidates.compute_intersection_with_partition_keys(set(closed))  # pyright: ignore[reportArgumentType]
            if candidates.is_partitioned
            else context.get_empty_subset()
        )
        return dg.AutomationResult(
            context,
            true_subset,
            metadata={
                "breaker_open": ", ".join(
                    f"{p.partition or '(unpartitioned)'} ({p.failures} failures)" for p in opened
                )
            },
        )


def feature_condition(threshold: int = BREAKER_THRESHOLD) -> dg.AutomationCondition:
    """The one automation condition of every feature asset (see the module's docstring)."""
    triggered = (
        _after_last_handled(AC.any_deps_updated(), "an upstream partition it reads was updated")
        | _after_last_handled(AC.newly_missing(), "newly missing")
        | _after_last_handled(AC.code_version_changed(), "code version changed")
    )
    healthy = ~AC.any_deps_match(_blocking_check_failed())
    ready = ~AC.any_deps_missing() & ~AC.any_deps_in_progress() & healthy & ~AC.in_progress()
    condition = triggered & ready & BreakerClosed(threshold)
    return condition.with_label("fresh upstream, healthy upstream, breaker closed")
