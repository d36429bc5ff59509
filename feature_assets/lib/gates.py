"""Statistical gates: numbers about a partition compared with the partitions before it."""

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation

from feature_assets.lib.partitions import daily_partitions

VOLUME = "volume"


@dataclass(frozen=True)
class VolumeRule:
    """A day's row count must lie within [low, high] × the median of the trailing ``days``.

    Calibrated on the real 2013 data: a day's flights are 0.65–1.06 × the trailing 14-day median
    and its weather 0.79–1.0. With fewer than ``min_history`` earlier days the gate passes and
    says so. ``severity`` ERROR blocks the partition; WARN reports it and lets it through.
    """

    low: float = 0.5
    high: float = 2.0
    days: int = 14
    min_history: int = 3
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR


def volume_spec(key: dg.AssetKey, rule: VolumeRule) -> dg.AssetCheckSpec:
    """The volume check of a daily asset (blocking when its rule's severity is ERROR)."""
    return dg.AssetCheckSpec(
        VOLUME,
        asset=key,
        blocking=rule.severity == dg.AssetCheckSeverity.ERROR,
        description=(
            f"rows of the day within [{rule.low}, {rule.high}] × the median of the "
            f"{rule.days} days before ({rule.severity.value})"
        ),
        partitions_def=daily_partitions,
    )


def volume(
    key: dg.AssetKey,
    rule: VolumeRule,
    counts: Mapping[dt.date, int],
    partition_keys: Sequence[str],
) -> list[AssetCheckEvaluation]:
    """One volume result per partition key; ``counts`` holds rows per day, earlier days included.

    A day absent from ``counts`` has zero rows when it is one of the run's partitions, and is
    not history (not delivered) otherwise.
    """
    results = []
    for key_text in partition_keys:
        day = dt.date.fromisoformat(key_text)
        rows = counts.get(day, 0)
        history = [
            counts[d]
            for d in (day - dt.timedelta(days=i) for i in range(1, rule.days + 1))
            if d in counts
        ]
        metadata: dict = {
            "partition": key_text,
            "rows": rows,
            "history_days": len(history),
            "bounds": f"[{rule.low}, {rule.high}] × median",
        }
        if len(history) < rule.min_history:
            passed = True
            description = f"{key_text}: {rows} rows; too little history to judge"
        else:
            median = statistics.median(history)
            ratio = rows / median if median else float("inf")
            passed = rule.low <= ratio <= rule.high
            metadata |= {"trailing_median": float(median), "ratio": round(ratio, 3)}
            description = (
                f"{key.to_user_string()} partition {key_text}: {rows} rows = {ratio:.2f} × the "
                f"median {median:g} of the {len(history)} days before "
                f"({'within' if passed else 'outside'} [{rule.low}, {rule.high}])"
            )
        results.append(
            AssetCheckEvaluation(
                asset_key=key,
                check_name=VOLUME,
                passed=passed,
                metadata=metadata,
                severity=rule.severity,
                description=description,
                blocking=rule.severity == dg.AssetCheckSeverity.ERROR,
                partition=key_text,
            )
        )
    return results
