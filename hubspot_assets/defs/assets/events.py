"""The events asset."""

import functools
import time
from collections.abc import Callable
from itertools import chain
from typing import Any

import dagster as dg

from hubspot_assets.consolidate.stored_ids import StoredIds
from hubspot_assets.defs.assets.stage import (
    latest_metadata,
    run_stage,
    stage_asset,
    stored_data,
    stream_stage,
)
from hubspot_assets.defs.assets.sync_config import SyncConfig, stage_checkpoint
from hubspot_assets.defs.resources import HubSpotResource, MongoResource
from hubspot_assets.extract.events import StoredObjects, event_records
from hubspot_assets.extract.marketing import (
    email_event_records,
    membership_records,
    submission_records,
)
from hubspot_assets.mongo.collections import stream_collection
from hubspot_assets.mongo.stored_stream import StoredStream, latest_stream
from hubspot_assets.stream.naming import OBJECT_RECORDS
from hubspot_assets.stream.records import EVENT
from hubspot_assets.sync.plan import FULL


@stage_asset(
    description="Events of every event type (GET /events/v3/events), streamed: all on the "
    "first run (or with full_refresh), afterwards those occurred since each type's watermark "
    "minus the source's events lookback (events sent late). Where HubSpot refuses "
    "account-wide reads, read per stored object instead. With them, the members of "
    "every list changed since its watermark (each list read whole), the submissions of every "
    "form since the form's watermark, and marketing email events since their watermark "
    "(legacy /email/public/v1/events, the only endpoint HubSpot has).",
    code_version="5",
)
def events(context: dg.AssetExecutionContext, config: SyncConfig, hubspot: HubSpotResource,
           mongo: MongoResource, event_types: Any) -> Any:
    """The events of the discovered event types (new ones only, once watermarked).

    Beside object_records, so that its calls fill the budget that reading the
    records leaves (a type's last pages come one at a time). Only the per-object
    fallback needs the records: it waits for them (`records_of_this_run`).
    """
    types = [data["eventType"] for data in stored_data(event_types)]
    checkpoint = stage_checkpoint(context, mongo, config.policy())
    db = mongo.db()
    stored = stored_objects(db, lambda: stored_ids(context, db, records_of_this_run(context, db)),
                            context.partition_key)
    workers = hubspot.settings.max_in_flight
    yield from run_stage(context, stream_stage(context, hubspot, lambda client, source, report: (
        chain(event_records(client, types, report, max_workers=workers, plan=checkpoint.plan,
                            lookback_hours=source.events_lookback_hours, stored=stored),
              membership_records(client, report, max_workers=workers, plan=checkpoint.plan),
              submission_records(client, report, max_workers=workers, plan=checkpoint.plan),
              email_event_records(client, report, plan=checkpoint.plan))), checkpoint))


def stored_objects(db: Any, ids: Callable[[], StoredIds], source_id: str) -> StoredObjects:
    """The per-object fallback's view of MongoDB: every stored object of a type
    (archived ones too: HubSpot may still list their events), and the objectType of
    an event type's stored events (one find_one each: an event type is on one type).

    ``ids`` is called once, when the fallback first needs them."""
    ids = functools.cache(ids)

    def of(object_type: str):
        return ids().of(object_type)

    def object_type_of(event_type: str) -> str | None:
        found = stream_collection(db, source_id).find_one(
            {"kind": EVENT, "object_type": event_type, "data.objectType": {"$exists": True}},
            {"data.objectType": 1})
        return found["data"]["objectType"] if found else None

    return StoredObjects(ids=of, object_type_of=object_type_of)


def stored_ids(context: dg.AssetExecutionContext, db: Any, object_records: Any) -> StoredIds:
    """Every stored id of each type, from object_records' latest materialization (read
    in full: its documents alone; incremental: with the consolidated objects)."""
    metadata = latest_metadata(context, dg.AssetKey(OBJECT_RECORDS)) or {}
    return StoredIds(db, context.partition_key, object_records,
                     complete=metadata.get("mode") == FULL)


#: Seconds between two looks at whether object_records has finished in this run.
RECORDS_POLL_SECONDS = 2.0
#: The longest the fallback waits for it: a step process killed without a trace
#: leaves its step "in progress" for ever.
RECORDS_WAIT_LIMIT_SECONDS = 12 * 3600.0


def records_of_this_run(context: dg.AssetExecutionContext, db: Any,
                        poll_seconds: float = RECORDS_POLL_SECONDS,
                        wait_limit_seconds: float = RECORDS_WAIT_LIMIT_SECONDS) -> StoredStream:
    """What object_records stored: in this run, once it has finished (when the run
    materializes it too), else its latest materialization."""
    key = dg.AssetKey(OBJECT_RECORDS)
    in_run = key in (context.run.asset_selection
                     or context.job_def.asset_layer.executable_asset_keys)
    deadline = time.monotonic() + wait_limit_seconds
    logged = False
    while in_run and latest_metadata(context, key, this_run=True) is None:
        step = context.instance.get_run_step_stats(context.run_id, step_keys=[OBJECT_RECORDS])
        status = step[0].status.value if step and step[0].status else None
        # In one process, steps run one after another: waiting would never end.
        never = status is None and context.job_def.executor_def.name == "in_process"
        if status in ("FAILURE", "SKIPPED") or never or time.monotonic() > deadline:
            why = ("has not run" if never else "did not finish" if status in
                   ("FAILURE", "SKIPPED") else f"did not finish within {wait_limit_seconds:g} s")
            raise dg.Failure(description=(
                f"source {context.partition_key}: HubSpot refuses account-wide event reads, "
                f"and the per-object reads need this run's {OBJECT_RECORDS}, which {why}; "
                f"re-run the sync"), allow_retries=False)
        if not logged:  # once: the run log is not a progress bar
            context.log.info(f"events: waiting for {OBJECT_RECORDS} to finish (per-object "
                             f"reads)")
            logged = True
        time.sleep(poll_seconds)
    stream = latest_stream(db, context.partition_key, OBJECT_RECORDS)
    if stream is None:
        raise dg.Failure(description=f"source {context.partition_key}: the per-object event "
                         f"reads need {OBJECT_RECORDS}; materialize it first",
                         allow_retries=False)
    return stream
