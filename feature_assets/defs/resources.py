"""Resources every tier uses, and how runs execute against the embedded warehouse.

Paths come from ``FEATURE_ASSETS_HOME`` (default ``./data``): the DuckDB file is
``<home>/warehouse.duckdb`` and producers drop files under ``<home>/landing``.
"""

import dagster as dg

from feature_assets.lib.resources import build_resources
from feature_assets.lib.settings import data_home


@dg.definitions
def resources() -> dg.Definitions:
    """The warehouse, its IO manager and the landing zone, for ``FEATURE_ASSETS_HOME``.

    Runs use the in-process executor: every step opens the one DuckDB file, which admits a single
    writer process, so steps of a run go one after the other in one process (no per-step process
    start-up) and the ``duckdb`` pool queues steps of concurrent runs.
    """
    return dg.Definitions(resources=build_resources(data_home()), executor=dg.in_process_executor)
