"""Sensors, on by default under `dagster dev`: the landing zone, and declarative automation.

``landing_zone`` requests the ingestion partitions of new or re-delivered producer files (by
content hash, once); ``feature_automation`` evaluates every feature asset's
``AutomationCondition`` (``lib/automation.py``) and launches what became fresh and healthy. It is
evaluated in the code server (``use_user_code_server``) because the condition's circuit breaker
is project code.
"""

import dagster as dg

from feature_assets.lib import landing_watch, settings

INGESTION = dg.AssetSelection.groups("ingestion")


@dg.sensor(
    name="landing_zone",
    target=INGESTION,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="Requests the ingestion partition of every new or re-delivered landing file "
    "(content hash; an unchanged file requests nothing).",
)
def landing_zone(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Scan the landing zone against the cursor of hashes."""
    deliveries, cursor = landing_watch.scan(
        settings.landing_dir(), landing_watch.load_cursor(context.cursor)
    )
    if deliveries:
        context.log.info(f"delivered: {landing_watch.describe(deliveries)}")
    return dg.SensorResult(
        run_requests=landing_watch.run_requests(deliveries), cursor=landing_watch.dump(cursor)
    )


feature_automation = dg.AutomationConditionSensorDefinition(
    "feature_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    use_user_code_server=True,
    minimum_interval_seconds=15,
    description="Recomputes exactly the partitions whose upstream became fresh and passed its "
    "blocking checks (lib/automation.py); a partition that failed 3 times in a row waits for "
    "`feature-assets breaker reset`.",
)
