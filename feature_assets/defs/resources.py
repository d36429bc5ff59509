"""Resources every tier uses, and how runs execute against the embedded warehouse.

Paths come from ``FEATURE_ASSETS_HOME`` (default ``./data``): the DuckDB file is
``<home>/warehouse.duckdb`` and producers drop files under ``<home>/landing``.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from feature_assets.lib.landing import LandingZone
from feature_assets.lib.settings import landing_dir, warehouse_path
from feature_assets.lib.warehouse import WarehouseIOManager


@dg.definitions
def resources() -> dg.Definitions:
    """The warehouse (DuckDB through dagster-duckdb), its IO manager and the landing zone.

    Runs use the in-process executor: every step opens the one DuckDB file, which admits a single
    writer process, so steps of a run go one after the other in one process (no per-step process
    start-up) and the ``duckdb`` pool queues steps of concurrent runs.
    """
    database = DuckDBResource(database=str(warehouse_path()))
    return dg.Definitions(
        resources={
            "duckdb": database,
            "io_manager": WarehouseIOManager(database=database),
            "landing": LandingZone(root=str(landing_dir())),
        },
        executor=dg.in_process_executor,
    )
