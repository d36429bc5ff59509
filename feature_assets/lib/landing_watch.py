"""What the landing sensor sees: new and re-delivered producer files, by content.

The sensor's cursor maps each file to (size, mtime_ns, sha256). A file whose size and time are
unchanged is not read again; a file whose bytes hash the same as before requests nothing (a
producer that re-sends the same day changes nothing). Changed daily files become one request per
source and run of consecutive days; a changed snapshot file, one request for its asset.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from feature_assets.lib.landing import DAILY_SOURCES, SNAPSHOT_SOURCES, daily_file, snapshot_file

Seen = dict[str, list]  # relative path -> [size, mtime_ns, sha256]


@dataclass(frozen=True)
class Delivery:
    """One new or changed landing file: its source, its day (None for a snapshot) and hash."""

    source: str
    day: dt.date | None
    sha256: str


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(landing: Path) -> dict[str, tuple[str, dt.date | None, Path]]:
    found: dict[str, tuple[str, dt.date | None, Path]] = {}
    for source in DAILY_SOURCES:
        for path in sorted((landing / source).glob("????-??-??.csv")):
            try:
                day = dt.date.fromisoformat(path.stem)
            except ValueError:
                continue  # not a day's file: the sensor does not guess
            if path == daily_file(landing, source, day):
                found[f"{source}/{path.name}"] = (source, day, path)
    for source in SNAPSHOT_SOURCES:
        path = snapshot_file(landing, source)
        if path.exists():
            found[f"{source}/{path.name}"] = (source, None, path)
    return found


def scan(landing: Path, seen: Mapping[str, list]) -> tuple[list[Delivery], Seen]:
    """The deliveries since ``seen`` (the previous cursor) and the new cursor."""
    deliveries = []
    cursor: Seen = {}
    for name, (source, day, path) in _files(landing).items():
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # replaced between listing and reading: seen on the next tick
        before = seen.get(name)
        if before and before[0] == stat.st_size and before[1] == stat.st_mtime_ns:
            cursor[name] = list(before)
            continue
        sha = file_sha256(path)
        cursor[name] = [stat.st_size, stat.st_mtime_ns, sha]
        if not before or before[2] != sha:
            deliveries.append(Delivery(source, day, sha))
    return deliveries, cursor


def _runs_of_days(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == dt.timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def run_requests(deliveries: list[Delivery]) -> list[dg.RunRequest]:
    """One request per changed snapshot, and per daily source and run of consecutive days.

    A run of days is one run over the range, which the assets' single-run backfill policy reads
    at once.
    """
    requests = []
    for source in SNAPSHOT_SOURCES:
        if any(d.source == source for d in deliveries):
            requests.append(dg.RunRequest(asset_selection=[dg.AssetKey(["ingestion", source])]))
    for source in DAILY_SOURCES:
        days = [d.day for d in deliveries if d.source == source and d.day is not None]
        for first, last in _runs_of_days(days):
            key = dg.AssetKey(["ingestion", f"raw_{source}"])
            if first == last:
                requests.append(dg.RunRequest(asset_selection=[key], partition_key=str(first)))
            else:
                requests.append(
                    dg.RunRequest(
                        asset_selection=[key],
                        tags={
                            "dagster/asset_partition_range_start": str(first),
                            "dagster/asset_partition_range_end": str(last),
                        },
                    )
                )
    return requests


def load_cursor(text: str | None) -> Seen:
    """The sensor's cursor as a mapping (empty on the first tick)."""
    return json.loads(text) if text else {}


def dump(cursor: Seen) -> str:
    """The cursor as the sensor stores it."""
    return json.dumps(cursor, sort_keys=True)


def describe(deliveries: list[Delivery]) -> str:
    """A line per source for the sensor's log."""
    lines = []
    for source in [*SNAPSHOT_SOURCES, *DAILY_SOURCES]:
        days = [d.day for d in deliveries if d.source == source]
        if days:
            runs = _runs_of_days([d for d in days if d is not None])
            spans = [f"{a}..{b}" if a != b else str(a) for a, b in runs] or ["snapshot"]
            lines.append(f"{source}: {', '.join(spans)}")
    return "; ".join(lines)
