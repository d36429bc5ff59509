"""Where feature_assets keeps its files: one data directory, set by ``FEATURE_ASSETS_HOME``."""

import os
from pathlib import Path

HOME_ENV_VAR = "FEATURE_ASSETS_HOME"
DEFAULT_HOME = "data"
KEEP_VERSIONS_ENV_VAR = "FEATURE_ASSETS_KEEP_VERSIONS"
DEFAULT_KEEP_VERSIONS = 5
SIGNING_KEY_ENV_VAR = "FEATURE_ASSETS_SIGNING_KEY"


def data_home() -> Path:
    """The data directory: ``$FEATURE_ASSETS_HOME``, or ``./data`` when unset (made absolute)."""
    return Path(os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME).expanduser().resolve()


def landing_dir(home: Path | None = None) -> Path:
    """Where producers drop files: ``<home>/landing/<source>/<day>.csv``."""
    return (home or data_home()) / "landing"


def warehouse_path(home: Path | None = None) -> Path:
    """The DuckDB file that holds every tier, one schema per tier."""
    return (home or data_home()) / "warehouse.duckdb"


def audit_log_path(home: Path | None = None) -> Path:
    """The append-only, hash-chained audit log of the feature store (``lib/audit.py``)."""
    return (home or data_home()) / "audit.jsonl"


def keep_versions() -> int:
    """How many superseded versions of each partition keep their rows (default 5)."""
    text = os.environ.get(KEEP_VERSIONS_ENV_VAR)
    if not text:
        return DEFAULT_KEEP_VERSIONS
    value = int(text)
    if value < 0:
        raise ValueError(f"{KEEP_VERSIONS_ENV_VAR} must be 0 or more, not {text}")
    return value


def incidents_path(home: Path | None = None) -> Path:
    """Where the ``incidents`` sensor records failed runs (``lib/incidents.py``)."""
    return (home or data_home()) / "incidents.jsonl"
