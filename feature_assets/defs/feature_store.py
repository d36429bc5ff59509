"""The feature store's sensors and job: definitions audited as they load; incidents; rollback.

``feature_definitions``: each tick compares the loaded definitions (code version and contract of
every asset) with what the audit log last recorded, and appends an entry for each that is new,
changed or gone: a change of code is audited when the code location loads it, before anything is
recomputed. ``incidents``: every failed run is recorded (``lib/incidents.py``).
"""

import dagster as dg

from feature_assets.lib import audit, settings
from feature_assets.lib.incidents import incident
from feature_assets.lib.rollback import rollback_job


@dg.sensor(
    name="feature_definitions",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Audits new and changed asset definitions (code_version, contract) when the code "
    "location loads them (audit.jsonl in FEATURE_ASSETS_HOME).",
)
def feature_definitions(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Append definition changes to the audit log; never requests a run."""
    assert context.repository_def is not None
    current = audit.definition_fingerprints(context.repository_def.assets_defs_by_key.values())
    appended = audit.sync_definitions(
        settings.audit_log_path(), current, reason="seen when the code location loaded"
    )
    for entry in appended:
        context.log.info(f"audited {entry['action']} {entry['subject']}: {entry['details']}")
    return dg.SkipReason(
        f"audited {len(appended)} definition changes" if appended else "no definition changed"
    )


rollback = rollback_job
"""The ``rollback`` job (``lib/rollback.py``): launched by ``feature-assets rollback`` or from the
UI's launchpad with a ``RollbackConfig``."""


@dg.run_failure_sensor(
    name="incidents",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Records every failed run as an incident: its assets and partitions, their "
    "owners, each step's error, the run's parameters and when its inputs were last "
    "materialised (incidents.jsonl in FEATURE_ASSETS_HOME).",
)
def incidents(context: dg.RunFailureSensorContext) -> None:
    """Append the failed run's incident; say it in the sensor's log."""
    repository = context.repository_def  # the code location this sensor is evaluated in
    assert repository is not None, "the incidents sensor runs inside its code location"
    found = incident(
        context.instance,
        context.dagster_run,
        context.get_step_failure_events(),
        repository.assets_defs_by_key.values(),
    )
    owners = ", ".join(found["owners"]) or "no owner"
    first = found["errors"][0]["error"].splitlines()[0] if found["errors"] else "the run failed"
    subject = f"{', '.join(found['failed_assets'] or found['assets'])} {found['partitions'] or ''}"
    entry = audit.append(settings.incidents_path(), "incident", subject.strip(), first, found)
    context.log.warning(f"incident {entry['seq']} for {owners}: {entry['subject']}: {first}")
