"""Optional scopes skip, never sink: a 403 on custom object schemas or on the events API is
recorded as a skip with HubSpot's reason, and the rest of the sync is stored."""

import pytest

from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.harness.run_history import record_job_history
from hubspot_assets_tests.sandbox import DEMO_TOKEN


def skipped_units(metadata: dict, stage: str) -> dict[str, str]:
    return {d["unit"]: d["message"] for d in metadata[stage]["error_details"] if d.get("skipped")}


@pytest.mark.parametrize("denied, stage, unit, scope", [
    ("schemas", "custom_object_schemas", "schemas", "crm.schemas.custom.read"),
    ("events", "event_types", "event_types", "behavioral_events.event_definitions.read_write"),
])
def test_a_missing_optional_scope_is_a_skip_and_the_sync_goes_on(
        pipeline, sandbox_factory, denied, stage, unit, scope):
    server = sandbox_factory(sizes={"contacts": 30, "deals": 5}, denied_types={denied})
    pipeline.add_source("scoped", token=DEMO_TOKEN, base_url=server.url)

    result = pipeline.sync("scoped")
    assert result.success
    metadata = stage_metadata(result)
    skipped = skipped_units(metadata, stage)
    assert list(skipped) == [unit] and scope in skipped[unit]
    assert metadata[stage]["errors"] == 0
    collection = pipeline.stream("scoped")
    assert collection.count_documents({"kind": "object", "object_type": "contacts"}) == 30
    if denied == "schemas":  # the standard types go on; the custom ones are unknown
        assert not collection.count_documents({"kind": "custom_object_schema"})
        assert collection.count_documents({"kind": "event"}) > 0
    else:
        assert not collection.count_documents({"kind": "event"})
        assert collection.count_documents({"kind": "custom_object_schema"}) > 0
    history = record_job_history(pipeline.instance, result.run_id, pipeline.mongo_uri,
                                 pipeline.database)
    assert history["status"] == "SUCCESS"
    assert any(e.get("skipped") and e["unit"] == unit for e in history["errors"])
