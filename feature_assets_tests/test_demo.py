"""The README's first command, `feature-assets demo`, on a few days, in a fresh folder."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_every_tier_and_reports(tmp_path: Path) -> None:
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FEATURE_ASSETS_HOME")}
    command = [str(Path(sys.executable).parent / "feature-assets"), "demo", "--days", "3"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for tier in ("ingestion", "cleansing", "transformation", "aggregation", "training"):
        assert f"  {tier}" in out
    assert "transformation.flight_features" in out
    assert "http://127.0.0.1:3000" in out
    # The data and the run history land under ./data, where `dagster dev` will find them.
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        (rows,) = conn.execute("select count(*) from transformation.flight_features").fetchall()[0]
        (labels,) = conn.execute(
            "select count(*) from training.flight_delay_training_set"
        ).fetchall()[0]
    assert rows == labels == 842 + 943 + 914  # the real flights of 1..3 January 2013
    assert f"{rows:,}" in out
    assert (tmp_path / "data" / "dagster" / "storage").is_dir()
