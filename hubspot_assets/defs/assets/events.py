"""The events asset."""

from itertools import chain
from typing import Any

import dagster as dg

from hubspot_assets.defs.assets.stage import (
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
from hubspot_assets.mongo.collections import objects_collection, stream_collection
from hubspot_assets.stream.naming import CONSOLIDATED_OBJECTS
from hubspot_assets.stream.records import EVENT


@stage_asset(
    description="Events of every event type (GET /events/v3/events), streamed: all on the "
    "first run (or with full_refresh), afterwards those occurred since each type's watermark "
    "minus the source's events lookback (events sent late). Where HubSpot refuses "
    "account-wide reads, read per consolidated object instead. With them, the members of "
    "every list changed since its watermark (each list read whole), the submissions of every "
    "form since the form's watermark, and marketing email events since their watermark "
    "(legacy /email/public/v1/events, the only endpoint HubSpot has).",
    code_version="4",
    # After the objects: the per-object fallback reads over the consolidated ids.
    deps=[CONSOLIDATED_OBJECTS],
)
def events(context: dg.AssetExecutionContext, config: SyncConfig, hubspot: HubSpotResource,
           mongo: MongoResource, event_types: Any) -> Any:
    """The events of the discovered event types (new ones only, once watermarked)."""
    types = [data["eventType"] for data in stored_data(event_types)]
    checkpoint = stage_checkpoint(context, mongo, config.policy())
    stored = stored_objects(mongo.db(), context.partition_key)
    workers = hubspot.settings.max_in_flight
    yield from run_stage(context, stream_stage(context, hubspot, lambda client, source, report: (
        chain(event_records(client, types, report, max_workers=workers, plan=checkpoint.plan,
                            lookback_hours=source.events_lookback_hours, stored=stored),
              membership_records(client, report, max_workers=workers, plan=checkpoint.plan),
              submission_records(client, report, max_workers=workers, plan=checkpoint.plan),
              email_event_records(client, report, plan=checkpoint.plan))), checkpoint))


def stored_objects(db: Any, source_id: str) -> StoredObjects:
    """The per-object fallback's view of MongoDB: every consolidated object of a type
    (archived ones too: HubSpot may still list their events), and the objectType of
    an event type's stored events (one find_one each: an event type is on one type)."""

    def ids(object_type: str):
        documents = objects_collection(db, source_id).find(
            {"object_type": object_type}, {"hubspot_id": 1}, batch_size=1000)
        return (d["hubspot_id"] for d in documents)

    def object_type_of(event_type: str) -> str | None:
        found = stream_collection(db, source_id).find_one(
            {"kind": EVENT, "object_type": event_type, "data.objectType": {"$exists": True}},
            {"data.objectType": 1})
        return found["data"]["objectType"] if found else None

    return StoredObjects(ids=ids, object_type_of=object_type_of)
