"""The resources of the code location, built for one data directory."""

from pathlib import Path
from typing import Any

from feature_assets.lib.landing import LandingZone
from feature_assets.lib.settings import landing_dir, warehouse_path
from feature_assets.lib.warehouse import WarehouseDatabase, WarehouseIOManager


def build_resources(home: Path) -> dict[str, Any]:
    """The warehouse (DuckDB, one process at a time), its IO manager and the landing zone."""
    database = WarehouseDatabase(database=str(warehouse_path(home)))
    return {
        "duckdb": database,
        "io_manager": WarehouseIOManager(database=database),
        "landing": LandingZone(root=str(landing_dir(home))),
    }
