"""Where feature_assets keeps its files: one data directory, set by ``FEATURE_ASSETS_HOME``."""

import os
from pathlib import Path

HOME_ENV_VAR = "FEATURE_ASSETS_HOME"
DEFAULT_HOME = "data"


def data_home() -> Path:
    """The data directory: ``$FEATURE_ASSETS_HOME``, or ``./data`` when unset (made absolute)."""
    return Path(os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME).expanduser().resolve()


def landing_dir(home: Path | None = None) -> Path:
    """Where producers drop files: ``<home>/landing/<source>/<day>.csv``."""
    return (home or data_home()) / "landing"


def warehouse_path(home: Path | None = None) -> Path:
    """The DuckDB file that holds every tier, one schema per tier."""
    return (home or data_home()) / "warehouse.duckdb"
