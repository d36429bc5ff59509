"""The feature store's sensor and job: definitions audited as they load; rollback.

Each tick compares the loaded definitions (code version and contract of every asset) with what the
audit log last recorded, and appends an entry for each that is new, changed or gone: a change of
code is audited when the code location loads it, before anything is recomputed.
"""

import dagster as dg

from feature_assets.lib import audit, settings
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
