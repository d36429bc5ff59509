"""The main job: every tier, from the landing zone to the aggregates."""

import dagster as dg

main = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all(),
    description=(
        "Ingest, cleanse, transform and aggregate the selected days. Launched over a range of "
        "partitions it runs as one run (each asset reads and writes its whole range at once)."
    ),
)
