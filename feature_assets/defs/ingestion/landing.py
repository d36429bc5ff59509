"""Ingestion: producers' files, as delivered, become ``ingestion.raw_*`` tables."""

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from feature_assets.lib.assets import DAILY, LANDING_RETRY, partitioned_by
from feature_assets.lib.checks import audit_failure, contract_spec, held_back_metadata, publish
from feature_assets.lib.gates import (
    FreshnessRule,
    NullRateRule,
    VolumeRule,
    freshness,
    freshness_spec,
    null_rate_spec,
    null_rates,
    volume,
    volume_spec,
)
from feature_assets.lib.landing import LandingFileError, LandingZone, daily_file, snapshot_file
from feature_assets.lib.landing_watch import file_sha256
from feature_assets.lib.partitions import days_in
from feature_assets.lib.warehouse import DUCKDB_POOL, daily_counts, table_name


def _bad_file(
    context: dg.AssetExecutionContext, error: LandingFileError, partitions: Sequence[str | None]
) -> dg.Failure:
    """A file-level failure: no rows are published; says what it holds back downstream."""
    named = f"{partitions[0]}..{partitions[-1]}" if partitions[0] else "(unpartitioned)"
    held = held_back_metadata(context, context.asset_key, partitions)
    audit_failure(context, context.asset_key, partitions, str(error), {"error": "file refused"})
    return dg.Failure(
        description=f"partition {named}: {error} {held['held_back_summary']}",
        metadata={"partitions": named, "error": str(error), **held},
        allow_retries=False,
    )


def delivered(files: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """The landing file each partition was read from, with the SHA-256 of its bytes."""
    return {
        partition: [{"file": path, "sha256": file_sha256(Path(path))}]
        for partition, path in files.items()
        if Path(path).exists()
    }


def raw_daily_asset(
    source: str,
    description: str,
    rule: VolumeRule,
    nulls: NullRateRule,
    arrival: FreshnessRule,
) -> dg.AssetsDefinition:
    """A daily raw asset: the producer's files for the run's local days.

    Header-checked and typed by the producer contract, plus ``landing_date`` (the file's day)
    and ``source_file``.
    """
    key = dg.AssetKey(["ingestion", f"raw_{source}"])

    @dg.asset(
        key=key,
        description=description,
        code_version="1",
        retry_policy=LANDING_RETRY,
        check_specs=[
            contract_spec(key),
            volume_spec(key, rule),
            null_rate_spec(key, nulls),
            freshness_spec(key, arrival),
        ],
        output_required=False,
        metadata=partitioned_by("landing_date"),
        **DAILY,
    )
    def _raw(context: dg.AssetExecutionContext, landing: LandingZone, duckdb: DuckDBResource):
        days = days_in(context.partition_time_window)
        try:
            rows = landing.read_daily(source, days)
        except LandingFileError as e:
            raise _bad_file(context, e, context.partition_keys) from e
        before = days[0] - dt.timedelta(days=rule.days)
        with duckdb.get_connection() as conn:
            counts = daily_counts(conn, table_name(key), "landing_date", before, days[0])
        in_run = rows.group_by("landing_date").len().rows()
        counts = {day: n for day, n in counts.items() if day < days[0]} | dict(in_run)
        keys = context.partition_keys
        files = {day.isoformat(): str(daily_file(landing.path, source, day)) for day in days}
        gates = (
            volume(key, rule, counts, keys, files)
            + null_rates(key, nulls, rows, "landing_date", keys, files)
            + freshness(key, arrival, landing.arrivals(source, days), keys, files)
        )
        yield from publish(context, {key: rows}, gates=gates, sources=delivered(files))

    return _raw  # pyright: ignore[reportReturnType] (the ** of DAILY hides the overload)


def snapshot_asset(source: str, description: str) -> dg.AssetsDefinition:
    """An unpartitioned dimension: the producer's latest snapshot file, replaced whole."""
    key = dg.AssetKey(["ingestion", source])

    @dg.asset(
        key=key,
        description=description,
        code_version="1",
        retry_policy=LANDING_RETRY,
        pool=DUCKDB_POOL,
        check_specs=[contract_spec(key, partitioned=False)],
        output_required=False,
    )
    def _snapshot(context: dg.AssetExecutionContext, landing: LandingZone):
        try:
            rows = landing.read_snapshot(source)
        except LandingFileError as e:
            raise _bad_file(context, e, [None]) from e
        yield from publish(
            context, {key: rows}, sources=delivered({"": str(snapshot_file(landing.path, source))})
        )

    return _snapshot


raw_flights = raw_daily_asset(
    "flights",
    "One row per scheduled flight as the producer delivered it, per local day's file.",
    VolumeRule(),
    NullRateRule({"dep_time": 0.9, "dep_delay": 0.9, "arr_delay": 0.9, "tailnum": 0.5}),
    FreshnessRule(),
)
raw_weather = raw_daily_asset(
    "weather",
    "One row per airport and hour as the producer delivered it, per local day's file.",
    # Missing hours are reported, not invented, and do not hold the day back: the features of
    # an unobserved hour are null.
    VolumeRule(severity=dg.AssetCheckSeverity.WARN),
    NullRateRule({"temp": 0.25, "wind_speed": 0.25, "precip": 0.25, "visib": 0.25}),
    FreshnessRule(),
)
airlines = snapshot_asset("airlines", "One row per carrier code: the airline's name.")
airports = snapshot_asset("airports", "One row per FAA airport code: name, location, time zone.")
planes = snapshot_asset("planes", "One row per tail number: year of manufacture, model, seats.")
