"""Write the job history of a finished in-process run, as the daemon's sensors would.

`dg.materialize` runs no sensors; the fault matrix and the reliability tests
call the real run status sensors here so that what they check is what
production writes.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from hubspot_assets.defs.resources import JobHistoryResource
from hubspot_assets.defs.sensors import job_history_on_failure, job_history_on_success
from hubspot_assets.mongo.collections import job_history_collection
from hubspot_assets.mongo.connection import get_database

_ENDED = {dg.DagsterEventType.RUN_SUCCESS: job_history_on_success,
          dg.DagsterEventType.RUN_FAILURE: job_history_on_failure}


def record_job_history(instance: dg.DagsterInstance, run_id: str, uri: str,
                       database: str) -> dict[str, Any]:
    """Run the history sensor matching the run's outcome; return the stored document."""
    run = instance.get_run_by_id(run_id)
    event = instance.all_logs(run_id, of_type=set(_ENDED))[-1].dagster_event
    sensor = _ENDED[event.event_type]
    history = JobHistoryResource(uri=uri, database=database)
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
        dagster_run=run, resources={"job_history": history},
    ) as context:
        sensor(context)
    return job_history_collection(get_database(uri, database)).find_one({"_id": run_id})
