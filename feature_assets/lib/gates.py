"""Statistical gates: numbers about a partition compared with the partitions before it."""

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation

from feature_assets.lib import charts
from feature_assets.lib.partitions import daily_partitions


def daily_check(name: str, key: dg.AssetKey, description: str, blocking: bool) -> dg.AssetCheckSpec:
    """A check with one result per daily partition of ``key``."""
    return dg.AssetCheckSpec(
        name,
        asset=key,
        blocking=blocking,
        description=description,
        partitions_def=daily_partitions,
    )


def result(
    key: dg.AssetKey,
    name: str,
    partition: str,
    passed: bool,
    metadata: Mapping[str, Any],
    description: str | None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    blocking: bool | None = None,
) -> AssetCheckEvaluation:
    """One partition's result of a check; by default it blocks when failed with ERROR."""
    return AssetCheckEvaluation(
        asset_key=key,
        check_name=name,
        passed=passed,
        metadata=dict(metadata),
        severity=severity,
        description=description,
        blocking=severity == dg.AssetCheckSeverity.ERROR if blocking is None else blocking,
        partition=partition,
    )


VOLUME = "volume"


def _file(files: Mapping[str, str] | None, partition: str) -> dict[str, str]:
    return {"file": files[partition]} if files and partition in files else {}


def _in(files: Mapping[str, str] | None, partition: str) -> str:
    return f" (file {files[partition]})" if files and partition in files else ""


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
    return daily_check(
        VOLUME,
        key,
        f"rows of the day within [{rule.low}, {rule.high}] × the median of the "
        f"{rule.days} days before ({rule.severity.value})",
        blocking=rule.severity == dg.AssetCheckSeverity.ERROR,
    )


def volume(
    key: dg.AssetKey,
    rule: VolumeRule,
    counts: Mapping[dt.date, int],
    partition_keys: Sequence[str],
    files: Mapping[str, str] | None = None,
) -> list[AssetCheckEvaluation]:
    """One volume result per partition key; ``counts`` holds rows per day, earlier days included.

    A day absent from ``counts`` has zero rows when it is one of the run's partitions, and is
    not history (not delivered) otherwise. ``files`` names each partition's source file.
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
            **_file(files, key_text),
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
                f"{key.to_user_string()} partition {key_text}{_in(files, key_text)}: {rows} rows "
                f"= {ratio:.2f} × the median {median:g} of the {len(history)} days before "
                f"({'within' if passed else 'outside'} [{rule.low}, {rule.high}])"
            )
        results.append(result(key, VOLUME, key_text, passed, metadata, description, rule.severity))
    return results


FRESHNESS = "freshness"


@dataclass(frozen=True)
class FreshnessRule:
    """A day's file must arrive by the end of the day (local midnight) + ``lag``.

    Arrival is the file's modification time. WARN by default: a late file holds correct data
    and is published (a blocking gate would refuse every late or corrected delivery forever);
    the gate makes the lateness visible per partition. ERROR would block late days.
    """

    lag: dt.timedelta = dt.timedelta(hours=6)
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN


def freshness_spec(key: dg.AssetKey, rule: FreshnessRule) -> dg.AssetCheckSpec:
    """The freshness check of a daily source."""
    return daily_check(
        FRESHNESS,
        key,
        f"the day's file arrived by the end of the day + {_hours(rule.lag)} "
        f"({rule.severity.value})",
        blocking=rule.severity == dg.AssetCheckSeverity.ERROR,
    )


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def freshness(
    key: dg.AssetKey,
    rule: FreshnessRule,
    arrivals: Mapping[dt.date, dt.datetime],
    partition_keys: Sequence[str],
    files: Mapping[str, str] | None = None,
) -> list[AssetCheckEvaluation]:
    """One freshness result per partition key whose file arrived (``arrivals``, by day)."""
    results = []
    for key_text in partition_keys:
        arrived = arrivals.get(dt.date.fromisoformat(key_text))
        if arrived is None:
            continue  # no file: the asset fails and names it
        window = daily_partitions.time_window_for_partition_key(key_text)
        deadline = window.end + rule.lag
        late = arrived - deadline
        passed = late <= dt.timedelta(0)
        tz = window.end.tzinfo
        metadata = {
            "partition": key_text,
            **_file(files, key_text),
            "arrived_at": arrived.astimezone(tz).isoformat(),
            "deadline": deadline.isoformat(),
            "hours_late": round(max(late.total_seconds(), 0) / 3600, 2),
        }
        description = (
            f"{key.to_user_string()} partition {key_text}{_in(files, key_text)}: arrived "
            f"{arrived.astimezone(tz):%Y-%m-%d %H:%M %Z}, "
            + (
                f"{late.total_seconds() / 3600:.1f} h after its deadline {deadline:%Y-%m-%d %H:%M} "
                f"(the day's end + {_hours(rule.lag)})"
                if not passed
                else f"by its deadline {deadline:%Y-%m-%d %H:%M}"
            )
        )
        results.append(
            result(key, FRESHNESS, key_text, passed, metadata, description, rule.severity)
        )
    return results


DRIFT = "drift"


@dataclass(frozen=True)
class DriftRule:
    """Population stability index (PSI) of ``column`` on day D against days D-``days``..D-1.

    Fixed bin ``edges`` keep it linear in rows: each day is binned once, a reference is a sum of
    daily bin counts. PSI ≥ ``warn`` warns, ≥ ``error`` is an ERROR; neither blocks, because a
    storm is a real change of distribution, not bad data: the gate makes it visible. The
    defaults are calibrated on the real 2013 departure delays, whose daily PSI against the 28
    days before has median 0.09, 95th percentile 0.39 and 99th 0.58 (2013-03-08's snowstorm:
    1.55); the textbook 0.1 / 0.25 would flag 156 of 365 real days.
    """

    column: str
    edges: tuple[float, ...]
    days: int = 28
    min_history: int = 7
    warn: float = 0.4
    error: float = 0.6


def drift_spec(key: dg.AssetKey, rule: DriftRule) -> dg.AssetCheckSpec:
    """The (non-blocking) drift check of a daily asset."""
    return daily_check(
        DRIFT,
        key,
        f"PSI of {rule.column} against the {rule.days} days before: warn ≥ {rule.warn}, "
        f"error ≥ {rule.error} (reported, never blocking)",
        blocking=False,
    )


def bin_counts(values: pl.DataFrame, date_column: str, rule: DriftRule) -> dict[dt.date, list[int]]:
    """Per day, the count of non-null ``rule.column`` values in each of the rule's bins."""
    bins = len(rule.edges) + 1
    if values.is_empty():
        return {}
    counted = (
        values.lazy()  # lazy: the filter keeps only the two columns, not the whole table
        .select(date_column, rule.column)
        .filter(pl.col(rule.column).is_not_null())
        .group_by(
            date_column,
            # bin i holds edges[i-1] < x <= edges[i]: the number of edges below x
            pl.sum_horizontal(pl.col(rule.column) > edge for edge in rule.edges).alias("_bin"),
        )
        .len()
        .collect()
    )
    result: dict[dt.date, list[int]] = {}
    for day, index, n in counted.iter_rows():
        result.setdefault(day, [0] * bins)[index] = n
    return result


def psi(current: Sequence[int], reference: Sequence[int], floor: float = 1e-4) -> float:
    """Population stability index of two histograms on the same bins."""
    total_current, total_reference = sum(current), sum(reference)
    value = 0.0
    for c, r in zip(current, reference, strict=True):
        p = max(c / total_current, floor)
        q = max(r / total_reference, floor)
        value += (p - q) * math.log(p / q)
    return value


def drift(
    key: dg.AssetKey,
    rule: DriftRule,
    counts: Mapping[dt.date, Sequence[int]],
    partition_keys: Sequence[str],
) -> list[AssetCheckEvaluation]:
    """One drift result per partition key, from daily bin counts (earlier days included)."""
    results = []
    for key_text in partition_keys:
        day = dt.date.fromisoformat(key_text)
        history = [
            counts[d]
            for d in (day - dt.timedelta(days=i) for i in range(1, rule.days + 1))
            if d in counts
        ]
        current = counts.get(day)
        metadata: dict = {
            "partition": key_text,
            "column": rule.column,
            "history_days": len(history),
        }
        severity = dg.AssetCheckSeverity.WARN
        if current is None or not sum(current) or len(history) < rule.min_history:
            passed, description = True, f"{key_text}: too little data or history to judge drift"
        else:
            reference = [sum(column) for column in zip(*history, strict=True)]
            value = psi(current, reference)
            passed = value < rule.warn
            severity = (
                dg.AssetCheckSeverity.ERROR if value >= rule.error else dg.AssetCheckSeverity.WARN
            )
            labels = [f"≤{e:g}" for e in rule.edges] + [f">{rule.edges[-1]:g}"]
            day_shares, reference_shares = charts.shares(current), charts.shares(reference)
            top = max(day_shares + reference_shares)
            metadata |= {
                "psi": round(value, 4),
                "thresholds": f"warn ≥ {rule.warn}, error ≥ {rule.error}",
                # the two distributions at a glance, on one scale: bins left to right
                "shape": f"day {charts.sparkline(day_shares, top)} · "
                f"{len(history)} days before {charts.sparkline(reference_shares, top)} "
                f"({labels[0]} … {labels[-1]})",
                "histogram": dg.MetadataValue.md(
                    charts.histograms(
                        labels,
                        {key_text: current, f"the {len(history)} days before": reference},
                        f"{rule.column} bin",
                    )
                ),
            }
            description = (
                f"{key.to_user_string()} partition {key_text}: PSI of {rule.column} = {value:.3f} "
                f"against the {len(history)} days before (warn ≥ {rule.warn}, error ≥ {rule.error})"
            )
        # Reported, never blocking, whatever its severity.
        results.append(
            result(key, DRIFT, key_text, passed, metadata, description, severity, blocking=False)
        )
    return results


NULL_RATE = "null_rate"


@dataclass(frozen=True)
class NullRateRule:
    """Per column, the largest share of nulls a day may have; beyond it the day is blocked.

    Calibrated on the real 2013 data, whose worst days are far below: 57% of departures missing
    on 2013-02-08 (a blizzard: cancelled flights have no dep_time), 25% of tail numbers that day,
    1.6% of temperatures. The limits catch a producer that empties a column, not a storm.
    """

    limits: Mapping[str, float]
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR


def null_rate_spec(key: dg.AssetKey, rule: NullRateRule) -> dg.AssetCheckSpec:
    """The null-rate check of a daily asset."""
    limits = ", ".join(f"{column} ≤ {limit:.0%}" for column, limit in rule.limits.items())
    return daily_check(
        NULL_RATE,
        key,
        f"share of nulls per day: {limits} ({rule.severity.value})",
        blocking=rule.severity == dg.AssetCheckSeverity.ERROR,
    )


def null_rates(
    key: dg.AssetKey,
    rule: NullRateRule,
    frame: pl.DataFrame,
    partition_column: str,
    partition_keys: Sequence[str],
    files: Mapping[str, str] | None = None,
) -> list[AssetCheckEvaluation]:
    """One null-rate result per partition key (a day without rows has nothing to judge)."""
    columns = list(rule.limits)
    rates = {
        day.isoformat(): row
        for day, *row in frame.group_by(partition_column)
        .agg(pl.col(columns).null_count() / pl.len())
        .iter_rows()
    }
    results = []
    for key_text in partition_keys:
        observed = dict(zip(columns, rates.get(key_text, [0.0] * len(columns)), strict=True))
        over = {c: r for c, r in observed.items() if r > rule.limits[c]}
        description = (
            f"{key.to_user_string()} partition {key_text}{_in(files, key_text)}: "
            + "; ".join(
                f"column {c} is {r:.1%} null, over the limit {rule.limits[c]:.0%}"
                for c, r in over.items()
            )
            if over
            else None
        )
        metadata = {
            "partition": key_text,
            **_file(files, key_text),
            "null_rates": dg.MetadataValue.json({c: round(r, 4) for c, r in observed.items()}),
            "limits": dg.MetadataValue.json(dict(rule.limits)),
            "columns_over": dg.MetadataValue.json(sorted(over)),
        }
        results.append(
            result(key, NULL_RATE, key_text, not over, metadata, description, rule.severity)
        )
    return results


KNOWN_DESTINATIONS = "known_destinations"


def known_destinations_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The (warning) check that every destination is in the airports dimension."""
    return daily_check(
        KNOWN_DESTINATIONS,
        key,
        "every dest is a code of ingestion.airports; warns, never blocks: real flights go "
        "to BQN, SJU, STT and PSE, which the airports dimension lacks",
        blocking=False,
    )


def known_destinations(
    key: dg.AssetKey, unknown: pl.DataFrame, partition_keys: Sequence[str]
) -> list[AssetCheckEvaluation]:
    """Per partition, the destinations missing from the dimension (``unknown``: day, dest, len)."""
    by_day: dict[str, dict[str, int]] = {}
    for day, dest, n in unknown.iter_rows():
        by_day.setdefault(day.isoformat(), {})[dest] = n
    return [
        result(
            key,
            KNOWN_DESTINATIONS,
            key_text,
            key_text not in by_day,
            {
                "partition": key_text,
                "unknown_destinations": dg.MetadataValue.json(by_day.get(key_text, {})),
            },
            f"{key.to_user_string()} partition {key_text}: destinations not in "
            "ingestion.airports: "
            + ", ".join(f"{d} ({n} flights)" for d, n in by_day[key_text].items())
            if key_text in by_day
            else None,
        )
        for key_text in partition_keys
    ]


WEATHER_COVERAGE = "weather_coverage"


def weather_coverage_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The (warning) check that every flight found its origin's weather for its hour."""
    return daily_check(
        WEATHER_COVERAGE,
        key,
        "every flight has its origin's weather observation for the scheduled UTC hour; "
        "missing hours are reported (the features stay null, nothing is invented)",
        blocking=False,
    )


def weather_coverage(
    key: dg.AssetKey, features: pl.DataFrame, partition_keys: Sequence[str]
) -> list[AssetCheckEvaluation]:
    """Per partition, the flights without weather and the (origin, UTC hour)s that lacked it."""
    missing = features.filter(pl.col("temp").is_null() & pl.col("wind_speed").is_null())
    hours = (
        missing.group_by("flight_date", "origin", pl.col("sched_dep_utc").dt.truncate("1h"))
        .len()
        .sort("flight_date", "origin", "sched_dep_utc")
    )
    flights = dict(features.group_by("flight_date").len().iter_rows())
    by_day: dict[str, list[str]] = {}
    lacking: dict[str, int] = {}
    for day, origin, hour, n in hours.iter_rows():
        by_day.setdefault(day.isoformat(), []).append(f"{origin} {hour:%Y-%m-%d %H:00}Z ({n})")
        lacking[day.isoformat()] = lacking.get(day.isoformat(), 0) + n
    results = []
    for key_text in partition_keys:
        n_missing = lacking.get(key_text, 0)
        total = flights.get(dt.date.fromisoformat(key_text), 0)
        metadata = {
            "partition": key_text,
            "flights": total,
            "flights_without_weather": n_missing,
            "hours_without_weather": dg.MetadataValue.json(by_day.get(key_text, [])[:50]),
        }
        description = (
            f"{key.to_user_string()} partition {key_text}: {n_missing} of {total} flights have "
            f"no weather for their origin and hour ({len(by_day.get(key_text, []))} "
            "origin-hours missing)"
            if n_missing
            else None
        )
        results.append(
            result(key, WEATHER_COVERAGE, key_text, not n_missing, metadata, description)
        )
    return results


LEAKAGE = "no_leakage"


def leakage_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The blocking leakage check of a training set."""
    return daily_check(
        LEAKAGE,
        key,
        "every feature of every row was known at the row's prediction time "
        "(available_at <= prediction_time, within its time-to-live): blocking",
        blocking=True,
    )


def leakage(
    key: dg.AssetKey, found: pl.DataFrame, rows: pl.DataFrame, partition_keys: Sequence[str]
) -> list[AssetCheckEvaluation]:
    """One leakage result per partition; ``found`` holds the leaks of ``rows`` (see ``leaks``)."""
    per_day = dict(rows.group_by(pl.col("flight_date").dt.to_string()).len().iter_rows())
    results = []
    for key_text in partition_keys:
        day = found.filter(pl.col("flight_date") == dt.date.fromisoformat(key_text))
        groups = dict(day.group_by("feature_group").len().iter_rows())
        metadata: dict[str, Any] = {
            "partition": key_text,
            "rows": per_day.get(key_text, 0),
            "leaking_rows": day.height,
            **{f"leaks_{group}": n for group, n in sorted(groups.items())},
        }
        if day.height:
            examples = (
                day.head(5).with_columns(pl.col(pl.Date, pl.Datetime).cast(pl.String)).to_dicts()
            )
            metadata["examples"] = dg.MetadataValue.json(examples)
        description = (
            f"{key.to_user_string()} partition {key_text}: {day.height} features known after "
            f"their prediction time ({', '.join(f'{g}: {n}' for g, n in sorted(groups.items()))})"
            if day.height
            else f"{key.to_user_string()} partition {key_text}: every feature known in time"
        )
        results.append(
            result(
                key,
                LEAKAGE,
                key_text,
                day.height == 0,
                metadata,
                description,
                dg.AssetCheckSeverity.ERROR,
            )
        )
    return results
