"""The resources of the code location, built for one data directory."""

from pathlib import Path
from typing import Any

from dagster_duckdb import DuckDBResource

from feature_assets.lib.landing import LandingZone
from feature_assets.lib.settings import landing_dir, warehouse_path
from feature_assets.lib.warehouse import WarehouseIOManager


def build_resources(home: Path) -> dict[str, Any]:
    """The warehouse (DuckDB through dagster-duckdb), its IO manager and the landing zone."""
    database = DuckDBResource(database=str(warehouse_path(home)))
    return {
        "duckdb": database,
        "io_manager": WarehouseIOManager(database=database),
        "landing": LandingZone(root=str(landing_dir(home))),
    }
