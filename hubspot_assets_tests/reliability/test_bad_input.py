"""Bad input, end to end: each run fails at once with a clear error and writes nothing;
odd field names are stored unchanged; a response missing record ids fails only its unit;
a record MongoDB refuses is a stub and one recorded error. (Parsing rules themselves:
test_registry.py, mongo/test_naming.py.)"""

import pytest

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.mongo.connection import get_database
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.records import EVENT, StreamRecord, to_record
from hubspot_assets_tests.consolidate.expected import compare_consolidated
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, truth


def failure_message(result) -> str:
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures
    return failures[0].event_specific_data.error.message


def assert_nothing_written(pipeline, sandbox):
    assert sandbox.stats()["total"] == 0  # not one HubSpot call
    names = get_database(pipeline.mongo_uri, pipeline.database).list_collection_names()
    assert not [n for n in names if n.startswith("source_")], names


def test_malformed_registry_yaml_fails_the_run_naming_the_line(pipeline, sandbox):
    pipeline.add_source("good", token=DEMO_TOKEN, base_url=sandbox.url)
    pipeline.sources_file.write_text("sources:\n  - id: good\n    token_env: [unclosed\n")
    message = failure_message(pipeline.sync("good", selection=["custom_object_schemas"]))
    assert "not valid YAML at line" in message and "fix its syntax" in message
    assert_nothing_written(pipeline, sandbox)


def test_a_missing_token_variable_fails_the_run_naming_it(pipeline, sandbox, monkeypatch):
    pipeline.add_source("tokenless", token=DEMO_TOKEN, base_url=sandbox.url)
    monkeypatch.delenv("HUBSPOT_TOKEN_TOKENLESS")
    message = failure_message(pipeline.sync("tokenless", selection=["custom_object_schemas"]))
    assert "HUBSPOT_TOKEN_TOKENLESS is not set" in message
    assert_nothing_written(pipeline, sandbox)


@pytest.mark.parametrize("source_id", ["../x", "$x", "a" * 200, "ünïcode", "a.b"])
def test_a_source_id_that_cannot_name_a_collection_fails_the_run(pipeline, sandbox, source_id):
    pipeline.add_source("good", token=DEMO_TOKEN, base_url=sandbox.url)
    pipeline.sources_file.write_text(
        pipeline.sources_file.read_text()
        + f"  - id: {source_id!r}\n    token_env: HUBSPOT_TOKEN_GOOD\n")
    pipeline.instance.add_dynamic_partitions("hubspot_sources", [source_id])
    message = failure_message(pipeline.sync(source_id, selection=["custom_object_schemas"]))
    assert "is invalid" in message and "not a valid source id" in message
    assert_nothing_written(pipeline, sandbox)


def test_an_empty_source_id_fails_the_run_and_writes_nothing(pipeline, sandbox):
    # The registry never declares it (test_registry.py); a hand-made partition "" is
    # an unpartitioned run to Dagster, which refuses to give the stage a partition key.
    pipeline.add_source("good", token=DEMO_TOKEN, base_url=sandbox.url)
    pipeline.instance.add_dynamic_partitions("hubspot_sources", [""])
    assert "partition" in failure_message(pipeline.sync("", selection=["custom_object_schemas"]))
    assert_nothing_written(pipeline, sandbox)


def test_field_names_with_dots_and_dollars_are_stored_unchanged(mongo_uri, mongo_database):
    data = {"id": "1", "properties": {"a.b": "dotted", "$browser": "dollar", "$x.y": {"$z": 1}}}
    db = get_database(mongo_uri, mongo_database)
    write_stream(db, "odd", "events", "run-1", [StreamRecord(EVENT, "pe1_odd", "1", data)])
    stored = db["source_odd_stream"].find_one({"hubspot_id": "1"})
    assert to_record(stored).data == data


def test_events_without_ids_fail_only_their_type_and_are_recorded(pipeline, sandbox_factory,
                                                                  monkeypatch):
    from hubspot_assets_tests.sandbox import server as sandbox_server

    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_RETRY_DELAY", 0.05)
    server = sandbox_factory(sizes={"contacts": 20})
    account = server.account(DEMO_PORTAL_ID)
    broken = sorted(account.events)[0]

    def without_ids(handler):
        def handle(request, *args):
            status, out = handler(request, *args)
            if request.one("eventType") == broken:
                for event in out.get("results", []):
                    event.pop("id", None)
            return status, out
        return handle

    routes = [(m, rx, name, without_ids(fn) if name == "events.list" else fn, kind)
              for m, rx, name, fn, kind in sandbox_server._COMPILED]
    monkeypatch.setattr(sandbox_server, "_COMPILED", routes)
    pipeline.add_source("noids", token=DEMO_TOKEN, base_url=server.url)
    result = pipeline.sync("noids")
    assert result.success  # one event type's error is recorded, never fatal to the rest

    details = stage_metadata(result)["events"]["error_details"]
    assert {d["unit"] for d in details} == {broken}
    assert any("without 'id'" in d["message"] and not d.get("retried") for d in details)
    comparison = compare_stream(pipeline.stream("noids"), account)
    assert comparison.problems == [
        f"events {broken}: expected {len(list(truth.iter_events(account, broken)))}, found 0, "
        "missing " f"{len(list(truth.iter_events(account, broken)))}, unexpected 0, duplicates 0"]


def test_records_mongodb_refuses_are_stubs_and_recorded_errors_never_a_failed_stage(
        pipeline, sandbox_factory, monkeypatch):
    server = sandbox_factory(sizes={"contacts": 300, "companies": 30, "deals": 20},
                             events_per_type=10)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    iter_objects = HubSpotClient.iter_objects
    spoiled = {}

    def spoiling(self, object_type, *args, **kwargs):
        for record in iter_objects(self, object_type, *args, **kwargs):
            if object_type == "contacts" and len(spoiled) < 2 and not record["archived"]:
                # A property name BSON cannot hold, then an integer beyond 64 bits.
                bad = ({"bad\x00name": "x"}, {"score": 2 ** 70})[len(spoiled)]
                record = {**record, "properties": {**record["properties"], **bad}}
                spoiled[record["id"]] = bad
            yield record

    monkeypatch.setattr(HubSpotClient, "iter_objects", spoiling)
    result = pipeline.sync("demo")
    assert result.success
    records = stage_metadata(result)["object_records"]
    assert records["records_stubbed"] == 2 and records["errors"] >= 2
    assert {s["hubspot_id"] for s in records["records_stubbed_ids"]} == set(spoiled)
    assert sum(d["type"] == "RecordStubbed" for d in records["error_details"]) == 2
    objects = stage_metadata(result)["consolidated_objects"]
    assert objects["records_stubbed"] == 2

    db = get_database(pipeline.mongo_uri, pipeline.database)
    for hubspot_id in spoiled:
        stub = db["source_demo_objects"].find_one({"_id": f"contacts|{hubspot_id}"})
        assert stub["data_omitted"] and stub["properties"] == {} and not stub["deleted"]
    # Everything else is exact: the two stubbed contacts differ only in their properties,
    # and their associations were swept like every other live contact's.
    comparison = compare_consolidated(db, "demo", server.account(DEMO_PORTAL_ID))
    assert (comparison.missing, comparison.unexpected, comparison.duplicates) == (2, 2, 0)
    assert [p.split(":")[0] for p in comparison.problems] == ["objects contacts"]
