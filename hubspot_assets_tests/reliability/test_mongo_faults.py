"""MongoDB faults: a connection cut in the middle of a bulk write, two runs of one source
at once, a duplicate-key race, a record over 16 MB. Nothing lost, nothing duplicated."""

import dataclasses
import threading
from urllib.parse import urlsplit

import dagster as dg
from pymongo.errors import BulkWriteError

from hubspot_assets.mongo.connection import get_database
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.records import EVENT, StreamRecord
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.reliability.tcp_proxy import CuttingProxy
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

SIZES = {"contacts": 2500, "companies": 20, "deals": 30}


def assert_complete(pipeline, source_id, server):
    comparison = compare_stream(pipeline.stream(source_id), server.account(DEMO_PORTAL_ID))
    assert comparison.complete, comparison.problems


def test_a_connection_cut_in_the_middle_of_a_bulk_write_loses_nothing(pipeline,
                                                                      sandbox_factory):
    target = urlsplit(pipeline.mongo_uri)
    proxy = CuttingProxy(target.hostname, target.port)
    try:
        via_proxy = dataclasses.replace(
            pipeline, mongo_uri=f"mongodb://127.0.0.1:{proxy.port}/{target.query and '?' + target.query}")
        server = sandbox_factory(sizes=SIZES)
        via_proxy.add_source("cut", token=DEMO_TOKEN, base_url=server.url)
        # Discovery writes a few KB; the first 1,000-record batch of contacts is far more.
        proxy.cut_after(150_000)
        result = via_proxy.sync("cut")
        assert proxy.cuts == 1
        assert result.success
        assert_complete(via_proxy, "cut", server)
    finally:
        proxy.close()


def test_two_runs_of_one_source_at_once_store_everything_once(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES)
    pipeline.add_source("twice", token=DEMO_TOKEN, base_url=server.url)
    other = dataclasses.replace(pipeline, instance=dg.DagsterInstance.ephemeral())
    other.instance.add_dynamic_partitions("hubspot_sources", ["twice"])
    results = {}
    threads = [threading.Thread(target=lambda h=h: results.update({id(h): h.sync("twice")}))
               for h in (pipeline, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.success for r in results.values())
    assert_complete(pipeline, "twice", server)


class RacingCollection:
    """A collection whose first bulk write loses a race: another writer inserted the
    first document a moment earlier, so MongoDB answers E11000 for it."""

    def __init__(self, collection):
        self._collection, self.calls = collection, 0

    def __getattr__(self, name):
        return getattr(self._collection, name)

    def bulk_write(self, ops, ordered):
        self.calls += 1
        if self.calls > 1:
            return self._collection.bulk_write(ops, ordered=ordered)
        self._collection.bulk_write(ops[:1], ordered=ordered)  # the other writer wins
        result = self._collection.bulk_write(ops[1:], ordered=ordered)
        raise BulkWriteError({"writeErrors": [{"index": 0, "code": 11000,
                                               "errmsg": "E11000 duplicate key error"}],
                              "nUpserted": result.upserted_count, "nMatched": 0})


def events(n, size=10):
    return [StreamRecord(EVENT, "e_visit", str(i), {"id": str(i), "pad": "x" * size})
            for i in range(n)]


def test_a_duplicate_key_race_is_retried_and_stores_each_record_once(mongo_uri, mongo_database,
                                                                     monkeypatch):
    db = get_database(mongo_uri, mongo_database)
    racing = {}

    def stream_collection(database, source_id):
        collection = database[f"source_{source_id}_stream"]
        return racing.setdefault(source_id, RacingCollection(collection))

    monkeypatch.setattr("hubspot_assets.mongo.writer.stream_collection", stream_collection)
    summary = write_stream(db, "race", "events", "run-1", events(50), batch_size=50)
    assert racing["race"].calls == 2
    assert (summary.new, summary.unchanged) == (49, 1)
    assert db["source_race_stream"].count_documents({}) == 50


def test_a_record_over_16_mb_is_stored_without_its_data_and_the_rest_is_written(
        mongo_uri, mongo_database):
    db = get_database(mongo_uri, mongo_database)
    huge = StreamRecord(EVENT, "e_visit", "huge", {"id": "huge", "pad": "x" * (17 << 20)})
    records = [*events(30), huge, *events(5)]
    summary = write_stream(db, "big", "events", "run-1", records, batch_size=20)
    assert summary.too_large == 1 and summary.metadata()["too_large"] == 1
    collection = db["source_big_stream"]
    assert collection.count_documents({}) == 31  # 30 + the stub (the last 5 repeat ids 0-4)
    stub = collection.find_one({"hubspot_id": "huge"})
    assert stub["data"] is None and "16 MB" in stub["data_omitted"]
    # Idempotent: a re-run stores nothing new, the stub included.
    again = write_stream(db, "big", "events", "run-2", records, batch_size=20)
    assert again.new == 0 and collection.count_documents({}) == 31
