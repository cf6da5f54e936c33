"""MongoStreamIOManager driven through Dagster over real wire traffic."""

from __future__ import annotations

import dagster as dg
import pytest

from hubspot_assets.defs.io_manager import MongoStreamIOManager, StreamNotMaterialized
from hubspot_assets.mongo.collections import runs_collection
from hubspot_assets.mongo.stored_stream import StoredStream
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.naming import InvalidSourceId
from hubspot_assets.stream.protocol import StreamAborted
from hubspot_assets.stream.records import StreamRecord
from hubspot_assets_tests.mongo.streams import ContactStream, contact, stream_asset

SOURCES = dg.DynamicPartitionsDefinition(name="mongo_test_sources")


def _instance(*keys: str) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SOURCES.name, list(keys) or ["acme"])
    return instance


def _consumer(upstream: str, seen: list, name: str = "consumer") -> dg.AssetsDefinition:
    """An asset that records what `load_input` handed it."""

    @dg.asset(name=name, partitions_def=SOURCES, ins={"stream": dg.AssetIn(upstream)})
    def _asset(stream):
        seen.append(stream)
        return None

    return _asset


def _materialize(assets, manager, instance, key="acme", **kwargs):
    return dg.materialize(assets, partition_key=key, resources={"io_manager": manager},
                          instance=instance, **kwargs)


def _output_metadata(result, node: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in materialization.metadata.items()}


@pytest.fixture
def manager(mongo_uri, mongo_database) -> MongoStreamIOManager:
    return MongoStreamIOManager(uri=mongo_uri, database=mongo_database, batch_size=200)


def test_rerun_adds_nothing_and_reports_counts(manager, db):
    producer = stream_asset("records", SOURCES, lambda: ContactStream(1_000))
    instance = _instance("acme")
    first = _materialize([producer], manager, instance)
    meta = _output_metadata(first, "records")
    assert meta["dagster/partition_row_count"] == 1_000
    assert (meta["new"], meta["unchanged"]) == (1_000, 0)
    assert meta["collection"] == "source_acme_stream"
    assert meta["api_calls"] == 11 and meta["produced"] == 1_000  # the stream's metadata()

    second = _materialize([producer], manager, instance)
    meta = _output_metadata(second, "records")
    assert (meta["new"], meta["unchanged"]) == (0, 1_000)
    stream = db.source_acme_stream
    assert stream.count_documents({}) == 1_000
    run = runs_collection(db).find_one({"_id": "acme|records"})
    assert run["run_id"] == second.run_id and run["previous_run_id"] == first.run_id
    document = stream.find_one({"hubspot_id": "7"})
    assert document["run_id"] == first.run_id and document["last_run_id"] == second.run_id
    assert document["stage"] == "records" and document["source_id"] == "acme"
    assert document["data"] == contact(7).data
    assert document["seen_in"] == [f"records@{first.run_id}", f"records@{second.run_id}"]


def test_changed_records_land_as_new_versions(manager, db):
    version = {"v": "v1"}
    producer = stream_asset("records", SOURCES, lambda: ContactStream(
        100, version=lambda i: version["v"] if i < 10 else "v1"))
    seen: list[StoredStream] = []
    assets = [producer, _consumer("records", seen)]
    instance = _instance("acme")
    _materialize(assets, manager, instance)
    version["v"] = "v2"
    result = _materialize(assets, manager, instance)
    meta = _output_metadata(result, "records")
    assert (meta["new"], meta["unchanged"]) == (10, 90)
    stream = db.source_acme_stream
    assert stream.count_documents({}) == 110
    assert stream.count_documents({"hubspot_id": "3"}) == 2
    latest = seen[-1]
    assert latest.count() == 100
    notes = [d["data"]["properties"]["note"] for d in latest.filter(hubspot_id="3")]
    assert notes == ["v2"]
    assert latest.filter({"data.properties.note": "v1"}).count() == 90


def test_partitions_write_separate_collections(manager, db):
    producer = stream_asset("records", SOURCES, lambda: ContactStream(10))
    instance = _instance("acme", "beta-2")
    _materialize([producer], manager, instance, key="acme")
    _materialize([producer], manager, instance, key="beta-2")
    assert db.source_acme_stream.count_documents({}) == 10
    assert db["source_beta-2_stream"].count_documents({}) == 10
    # Same HubSpot data, different source: different documents.
    assert db.source_acme_stream.find_one({"hubspot_id": "1"})["_id"] != \
        db["source_beta-2_stream"].find_one({"hubspot_id": "1"})["_id"]


def test_stream_is_consumed_in_batches_while_still_open(manager, db):
    """Earlier batches are stored before later records are even produced: at
    most two batches (one in flight, one being built) are ever pending."""
    collection = db.source_acme_stream
    lag: list[int] = []

    def check(i: int) -> None:
        if i % 100 == 0:
            lag.append(i - collection.count_documents({}))

    producer = stream_asset("records", SOURCES, lambda: ContactStream(3_000, on_yield=check))
    _materialize([producer], manager, _instance("acme"))
    assert max(lag) <= 2 * manager.batch_size
    assert collection.count_documents({}) == 3_000


def test_writer_sends_one_bulk_write_per_batch(watched_client, command_log, mongo_database):
    db = watched_client[mongo_database]
    command_log.clear()
    summary = write_stream(db, "acme", "records", "run-1", ContactStream(2_500), batch_size=1_000)
    writes = [e.command for e in command_log.started_events
              if e.command_name == "update" and e.command["update"] == "source_acme_stream"]
    assert summary.batches == 3 == len(writes)
    assert [len(w["updates"]) for w in writes] == [1_000, 1_000, 500]
    assert all(w["ordered"] is False for w in writes)
    assert (summary.count, summary.new, summary.unchanged) == (2_500, 2_500, 0)


def test_load_input_is_lazy_and_cursor_backed(watched_client, command_log, mongo_database):
    db = watched_client[mongo_database]
    write_stream(db, "acme", "records", "run-1", ContactStream(1_000), batch_size=500)
    command_log.clear()
    stream = StoredStream(db.source_acme_stream, {"seen_in": "records@run-1"}, batch_size=100)
    assert command_log.names() == []  # building it reads nothing
    iterator = iter(stream)
    first = next(iterator)
    assert first["kind"] == "object"
    assert command_log.count("find") == 1 and command_log.count("getMore") == 0
    iterator.close()  # stopping early kills the server cursor
    assert command_log.count("killCursors") == 1
    # Re-iterable: each pass is a fresh cursor, fetched batch by batch.
    command_log.clear()
    assert sum(1 for _ in stream) == 1_000 and sum(1 for _ in stream) == 1_000
    assert command_log.count("find") == 2
    assert 2 * 9 <= command_log.count("getMore") <= 2 * 10  # a server may end with an empty batch
    assert stream.count() == 1_000
    narrowed = stream.filter(hubspot_id={"$in": ["1", "2"]}, projection={"hubspot_id": 1})
    assert sorted(d["hubspot_id"] for d in narrowed) == ["1", "2"]
    assert set(next(iter(narrowed))) == {"_id", "hubspot_id"}
    assert stream.distinct("object_type") == ["contacts"]
    record = next(stream.filter(hubspot_id="5").records())
    assert record == contact(5)
    assert "source_acme_stream" in repr(stream)


def test_two_stages_writing_the_same_records_each_see_their_own(manager, db):
    """Documents are shared (same _id) but each stage's load sees its full output."""
    first = stream_asset("full_sync", SOURCES, lambda: ContactStream(50))
    second = stream_asset("incremental", SOURCES, lambda: ContactStream(20))
    seen_full: list[StoredStream] = []
    seen_incremental: list[StoredStream] = []
    assets = [first, second, _consumer("full_sync", seen_full, "c1"),
              _consumer("incremental", seen_incremental, "c2")]
    _materialize(assets, manager, _instance("acme"))
    assert db.source_acme_stream.count_documents({}) == 50
    assert seen_full[-1].count() == 50 and seen_incremental[-1].count() == 20


def test_failed_run_does_not_replace_the_last_good_materialization(manager, db):
    fail = {"at": None}
    producer = stream_asset("records", SOURCES, lambda: ContactStream(300, fail_at=fail["at"]))
    seen: list[StoredStream] = []
    consumer = _consumer("records", seen)
    instance = _instance("acme")
    good = _materialize([producer], manager, instance)
    fail["at"] = 250
    failed = _materialize([producer], manager, instance, raise_on_error=False)
    assert not failed.success
    # Re-written documents from the failed run stay visible to the good one.
    _materialize([producer, consumer], manager, instance, selection=[consumer])
    assert seen[-1].count() == 300
    assert runs_collection(db).find_one({"_id": "acme|records"})["run_id"] == good.run_id


# -- unit cases through build_output_context / build_input_context ----------

def test_unit_contexts_round_trip(manager, db):
    out = dg.build_output_context(asset_key="discovery", partition_key="acme", run_id="run-a")
    records = [StreamRecord("custom_object_schema", None, "2-123", {"name": "pets"}, None),
               StreamRecord("event_type", None, "e_visit", {"name": "visit"})]
    manager.handle_output(out, records)  # any iterable of records will do
    assert out.get_logged_metadata()["new"].value == 2
    upstream = dg.build_output_context(asset_key="discovery", partition_key="acme")
    loaded = manager.load_input(dg.build_input_context(upstream_output=upstream,
                                                       partition_key="acme"))
    assert isinstance(loaded, StoredStream) and not isinstance(loaded, list)
    assert sorted(d["kind"] for d in loaded) == ["custom_object_schema", "event_type"]


def test_unpartitioned_assets_need_a_configured_source(mongo_uri, mongo_database, db):
    out = dg.build_output_context(asset_key="records", run_id="r")
    bare = MongoStreamIOManager(uri=mongo_uri, database=mongo_database)
    with pytest.raises(ValueError, match="source_id"):
        bare.handle_output(out, ContactStream(1))
    configured = MongoStreamIOManager(uri=mongo_uri, database=mongo_database, source_id="solo")
    configured.handle_output(out, ContactStream(3))
    assert db.source_solo_stream.count_documents({}) == 3


def test_bad_partition_keys_are_rejected_before_writing(manager, db):
    for key in ("acme.eu", "a b", "../x", "$x"):
        out = dg.build_output_context(asset_key="records", partition_key=key, run_id="r")
        with pytest.raises(InvalidSourceId):
            manager.handle_output(out, ContactStream(1))
    assert db.list_collection_names() == []


def test_what_is_not_a_record_stream(manager, db):
    out = dg.build_output_context(asset_key="records", partition_key="acme", run_id="r")
    manager.handle_output(out, None)  # an asset that returned nothing
    for wrong in ({"a": 1}, "text", 42):
        with pytest.raises(TypeError):
            manager.handle_output(out, wrong)
    with pytest.raises(TypeError, match="StreamRecord"):
        manager.handle_output(out, [{"kind": "object"}])


class Hooked(ContactStream):
    """Records what the IO manager called, in order."""

    def __init__(self, count, db, fail_with=None):
        super().__init__(count)
        self.db, self.fail_with, self.calls = db, fail_with, []

    def __iter__(self):
        yield from super().__iter__()
        if self.fail_with is not None:
            raise self.fail_with

    def on_written(self, run_id):
        stored = self.db.source_acme_stream.count_documents({})
        self.calls.append(("on_written", run_id, stored))

    def metadata(self):
        self.calls.append(("metadata",))
        return {"produced": self.produced}


def test_a_record_stream_is_told_once_everything_is_stored_then_asked_for_metadata(manager, db):
    out = dg.build_output_context(asset_key="records", partition_key="acme", run_id="run-h")
    stream = Hooked(1_234, db)
    manager.handle_output(out, stream)
    assert stream.calls == [("on_written", "run-h", 1_234), ("metadata",)]
    assert out.get_logged_metadata()["produced"].value == 1_234


def test_an_aborted_stream_fails_without_retry_and_commits_nothing(manager, db):
    out = dg.build_output_context(asset_key="records", partition_key="acme", run_id="run-x")
    stream = Hooked(10, db, fail_with=StreamAborted("source acme, stage records: 401"))
    with pytest.raises(dg.Failure) as info:
        manager.handle_output(out, stream)
    assert info.value.allow_retries is False and "401" in info.value.description
    assert stream.calls == []
    assert runs_collection(db).find_one({"_id": "acme|records"}) is None


def test_load_before_any_materialization_is_a_clear_error(manager):
    upstream = dg.build_output_context(asset_key="records", partition_key="acme")
    with pytest.raises(StreamNotMaterialized, match="materialize it first"):
        manager.load_input(dg.build_input_context(upstream_output=upstream, partition_key="acme"))


def test_indexes_exist_for_load_input_and_consolidation(manager, db):
    out = dg.build_output_context(asset_key="records", partition_key="acme", run_id="r")
    manager.handle_output(out, ContactStream(5))
    names = {i["name"]: list(i["key"].items()) for i in db.source_acme_stream.list_indexes()}
    assert names["seen_in"] == [("seen_in", 1)]
    assert names["versions"] == [("kind", 1), ("object_type", 1), ("hubspot_id", 1),
                                 ("fetched_at", -1)]
    assert names["kind_fetched"] == [("kind", 1), ("fetched_at", 1)]
    assert len(names) == 4  # with _id_


def test_resource_and_latest_stream_helpers(mongo_uri, mongo_database, manager):
    from hubspot_assets.defs.resources import MongoResource
    from hubspot_assets.mongo.stored_stream import latest_stream

    resource = MongoResource(uri=mongo_uri, database=mongo_database)
    assert resource.latest_stream("acme", "records") is None
    out = dg.build_output_context(asset_key="records", partition_key="acme", run_id="r1")
    manager.handle_output(out, ContactStream(12))
    assert resource.latest_stream("acme", "records").count() == 12
    assert latest_stream(resource.db(), "acme", "records").filter(hubspot_id="3").count() == 1
    assert resource.stream_collection("acme").name == "source_acme_stream"
    with pytest.raises(InvalidSourceId):
        resource.stream_collection("a.b")


def test_a_second_process_reads_what_this_one_wrote(manager, mongo_uri, mongo_database):
    import json
    import os
    import subprocess
    import sys

    out = dg.build_output_context(asset_key="records", partition_key="acme", run_id="r1")
    manager.handle_output(out, ContactStream(321))
    done = subprocess.run(
        [sys.executable, "-m", "hubspot_assets_tests.mongo.reader_process", mongo_uri,
         mongo_database, "acme", "records"],
        capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["count"] == seen["distinct_ids"] == 321 and seen["run_id"] == "r1"


@pytest.mark.timeout(300)
def test_steps_in_separate_processes(monkeypatch, mongo_uri, mongo_database, db):
    """Dagster's multiprocess executor: every step process connects on its own."""
    from hubspot_assets_tests.mongo.multiprocess_job import build_job

    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGO_TEST_DATABASE", mongo_database)
    with dg.instance_for_test() as instance:
        result = dg.execute_job(dg.reconstructable(build_job), instance=instance,
                                tags={"dagster/partition": "beta"})
        assert result.success
        workers = {e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
        assert len(workers) == 2  # two step processes
        (read,) = [e.materialization.metadata["read"].value
                   for e in result.get_asset_materialization_events()
                   if e.asset_key == dg.AssetKey("mp_summary")]
    assert read == 2_000
    assert db.source_beta_stream.count_documents({}) == 2_000
