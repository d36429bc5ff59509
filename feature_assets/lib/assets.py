"""What every asset of feature_assets shares: partitions, backfills as one run, the pool."""

from typing import Any

import dagster as dg

from feature_assets.lib.automation import feature_condition
from feature_assets.lib.partitions import daily_partitions
from feature_assets.lib.warehouse import DUCKDB_POOL, PARTITION_EXPR

LANDING_RETRY = dg.RetryPolicy(
    max_retries=3, delay=1.0, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Transient failures reading the landing zone (a file system hiccup) are retried with backoff and
jitter; a bad file raises ``dg.Failure(allow_retries=False)`` and is not retried."""

DAILY: dict[str, Any] = {
    "partitions_def": daily_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "pool": DUCKDB_POOL,
}
"""Keyword arguments of every daily asset. A backfill of many days runs as one run over the range
(``BackfillPolicy.single_run``): one read and one atomic write per asset, not one run per day."""


FEATURE_CONDITION = feature_condition()
FEATURE: dict[str, Any] = {**DAILY, "automation_condition": FEATURE_CONDITION}
"""Keyword arguments of every daily asset past ingestion: recomputed by declarative automation
when the upstream partitions it reads became fresh and healthy (``lib/automation.py``). The
ingestion assets are requested by the landing sensor instead. (A multi-asset puts
``FEATURE_CONDITION`` on each of its outputs.)"""


def partitioned_by(column: str) -> dict[str, str]:
    """Asset metadata naming the DATE column that holds a daily asset's partition."""
    return {PARTITION_EXPR: column}
