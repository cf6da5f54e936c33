"""Stream records as the stages store them, for the consolidation tests."""

import datetime as dt

from hubspot_assets.consolidate.relationships import consolidate_relationships
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.records import OBJECT, RELATIONSHIP, StreamRecord
from hubspot_assets.sync.watermarks import WatermarkStore

SOURCE = "acme"
NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.timezone.utc)


def contact(hubspot_id, updated, archived=False, **properties):
    data = {"id": hubspot_id, "properties": properties, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": updated, "archived": archived}
    if archived:
        data["archivedAt"] = "2026-03-01T00:00:00.000Z"
    return StreamRecord(OBJECT, "contacts", hubspot_id, data, updated)


def fetched(db, run_id, *records, stage="object_records", at=None):
    """Store records as a stage run would (at a given time, optionally)."""
    write_stream(db, SOURCE, stage, run_id, records,
                 clock=lambda: at or dt.datetime.now(dt.timezone.utc))


def edge(from_id, to_id, *labels, to_type="companies"):
    types = [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None},
             *({"category": "USER_DEFINED", "typeId": 9, "label": label} for label in labels)]
    data = {"fromObjectType": "contacts", "fromObjectId": from_id, "toObjectType": to_type,
            "toObjectId": to_id, "associationTypes": types}
    return StreamRecord(RELATIONSHIP, "contacts", from_id, data, None)


def swept(db, run_id, *edges, completed=("contacts->companies", "contacts->deals"),
          incomplete=()):
    fetched(db, run_id, *edges, stage="relationships")
    WatermarkStore(db).commit(SOURCE, "relationships", {
        "run_id": run_id, "units": {}, "completed": list(completed),
        "incomplete": list(incomplete)})
    return consolidate_relationships(db, SOURCE, f"c-{run_id}")


def active(db):
    edges = db[f"source_{SOURCE}_relationships"]
    return {(e["from_id"], e["to_type"], e["to_id"], tuple(e["labels"]))
            for e in edges.find({"removed": False})}
