"""The feature store for ML code, without Dagster: read features and training sets as polars.

    from feature_assets.lib import store
    store.training_set(dt.date(2013, 1, 1), dt.date(2013, 1, 31))   # point-in-time, checked

Reads the DuckDB warehouse of ``FEATURE_ASSETS_HOME`` read-only (while no run is writing: DuckDB
admits one writer process and a read-only opener waits for none).
"""

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from feature_assets.lib import settings
from feature_assets.lib.transforms import training
from feature_assets.lib.warehouse import read_rows


class LeakageError(ValueError):
    """A training set would hold features not known at their prediction time."""


def _read(conn: duckdb.DuckDBPyConnection, table: str, column: str, first, last) -> pl.DataFrame:
    return read_rows(conn, table, partition_column=column, dates=(first, last))


def training_set(
    first: dt.date, last: dt.date, lead: dt.timedelta = training.LEAD, home: Path | None = None
) -> pl.DataFrame:
    """The flights of local days first..last with the features known ``lead`` before departure.

    The same rows the ``training/flight_delay_training_set`` asset publishes, built from the
    published feature tables; raises ``LeakageError`` if any feature was not known in time.
    """
    path = settings.warehouse_path(home)
    day = dt.timedelta(days=1)
    with duckdb.connect(str(path), read_only=True) as conn:
        labels = _read(conn, "transformation.flight_features", "flight_date", first, last)
        weather = _read(conn, "cleansing.weather_clean", "obs_date", first - day, last)
        carrier = _read(conn, "aggregation.carrier_delay_7d", "flight_date", first - 3 * day, last)
        route = _read(conn, "aggregation.route_delay_28d", "flight_date", first - 3 * day, last)
    rows = training.training_set(
        labels.lazy(), weather.lazy(), carrier.lazy(), route.lazy(), lead
    ).collect()
    found = training.leaks(rows)
    if found.height:
        raise LeakageError(
            f"{found.height} features known after their prediction time, e.g. "
            f"{found.head(3).to_dicts()}"
        )
    return rows
