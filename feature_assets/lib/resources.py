"""The resources of the code location, built for one data directory."""

from pathlib import Path
from typing import Any

import dagster as dg

from feature_assets.lib.io_manager import WarehouseIOManager
from feature_assets.lib.landing import LandingZone
from feature_assets.lib.settings import audit_log_path, keep_versions, landing_dir, warehouse_path
from feature_assets.lib.warehouse import WarehouseDatabase


def build_resources(home: Path) -> dict[str, Any]:
    """The warehouse (DuckDB, one process at a time), its IO manager and the landing zone.

    The IO manager keeps ``$FEATURE_ASSETS_KEEP_VERSIONS`` superseded versions of each partition
    and writes gate failures to ``<home>/audit.jsonl``.
    """
    database = WarehouseDatabase(database=str(warehouse_path(home)))
    return {
        "duckdb": database,
        "io_manager": WarehouseIOManager(
            database=database,
            audit_log=str(audit_log_path(home)),
            keep_versions=keep_versions(),
        ),
        "landing": LandingZone(root=str(landing_dir(home))),
        "step_outputs": dg.mem_io_manager,  # small values between op steps (the rollback job)
    }
