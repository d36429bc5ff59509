"""The demo: replay real days into the landing zone, run every tier through Dagster, report."""

import datetime as dt
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.instance.ref import InstanceRef

from feature_assets.lib import audit, replay, settings

TIERS = ("ingestion", "cleansing", "transformation", "aggregation", "training")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Run config that keeps Dagster's per-event console log quiet (events are still stored)."""


@contextmanager
def local_instance(log: Callable[[str], None]):
    """The instance ``dagster dev`` uses from this folder, so the demo's runs show in the UI.

    ``$DAGSTER_HOME`` when set; otherwise ``./dagster.yaml`` (storage under ./data/dagster);
    otherwise a temporary instance.
    """
    if os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            yield instance
    elif Path("dagster.yaml").exists():
        ref = InstanceRef.from_dir(str(Path("data/dagster").resolve()), config_dir=os.getcwd())
        with dg.DagsterInstance.from_ref(ref) as instance:
            yield instance
    else:
        log("no DAGSTER_HOME and no ./dagster.yaml: runs go to a temporary instance")
        with dg.DagsterInstance.local_temp() as instance:
            yield instance


def range_tags(first: dt.date, last: dt.date) -> dict[str, str]:
    """Run tags that make one run cover the daily partitions first..last."""
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def run_tiers(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: dt.date,
    last: dt.date,
    log: Callable[[str], None],
) -> None:
    """Run the main job over first..last, one run per tier, in tier order."""
    job = defs.resolve_job_def("main")
    specs = list(defs.resolve_all_asset_specs())
    for tier in TIERS:
        keys = [spec.key for spec in specs if spec.group_name == tier]
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            tags=range_tags(first, last),
            asset_selection=keys,
            run_config=QUIET,
            raise_on_error=False,
        )
        elapsed = time.perf_counter() - started
        if not result.success:
            failures = [str(e.message) for e in result.all_events if e.is_failure]
            raise SystemExit(f"{tier} failed (run {result.run_id}):\n" + "\n".join(failures))
        log(f"  {tier:<15} {len(keys):>2} assets  {elapsed:6.1f}s  run {result.run_id[:8]}")


def table_rows(warehouse: Path) -> list[tuple[str, int]]:
    """Every table in the warehouse with its row count."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "order by table_schema, table_name"
        ).fetchall()
        return [(t, conn.execute(f"select count(*) from {t}").fetchall()[0][0]) for (t,) in tables]


def demo(start: dt.date, days: int, log: Callable[[str], None] = print) -> None:
    """Replay ``days`` days from ``start``, materialise every tier for them, print what it made."""
    from feature_assets.definitions import defs

    home = settings.data_home()
    first, last = start, start + dt.timedelta(days=days - 1)
    began = time.perf_counter()
    log(f"feature_assets demo: {first}..{last} ({days} days) in {home}")
    delivered = replay.replay(settings.landing_dir(home), start, days)
    log(
        f"  replayed       {delivered.written} files written, {delivered.unchanged} unchanged: "
        + ", ".join(f"{k} {v:,}" for k, v in (delivered.rows or {}).items())
    )
    audited = audit.sync_definitions(
        settings.audit_log_path(home),
        audit.definition_fingerprints(defs.assets or []),
        reason="seen by feature-assets demo",
    )
    if audited:
        log(f"  audit log      {len(audited)} asset definitions new or changed")
    with local_instance(log) as instance:
        run_tiers(defs, instance, first, last, log)
    log("\nrows per table:")
    for table, rows in table_rows(settings.warehouse_path(home)):
        log(f"  {table:<40} {rows:>10,}")
    log(f"\ndone in {time.perf_counter() - began:.1f}s.")
    log("open the UI:  .venv/bin/dagster dev   then http://127.0.0.1:3000 (Assets, Runs)")
    log("the store:    .venv/bin/feature-assets features | versions ASSET | training-set ...")
