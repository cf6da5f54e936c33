"""WatermarkStore: a watermark records what the stream held when it was committed, and a
later run distrusts it when that data is gone."""

from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.records import EVENT, StreamRecord
from hubspot_assets.sync.checkpoint import Checkpoint
from hubspot_assets.sync.plan import SyncPlan, SyncPolicy
from hubspot_assets.sync.watermarks import WatermarkStore

SOURCE, STAGE = "acme", "events"


def events(n, tag="v"):
    return [StreamRecord(EVENT, "e_visit", str(i), {"id": str(i), "v": tag}) for i in range(n)]


def synced(db, run_id, records):
    """A stage run as the IO manager does it: write, then commit the checkpoint."""
    store = WatermarkStore(db)
    checkpoint = Checkpoint.load(store, SOURCE, STAGE, SyncPolicy())
    write_stream(db, SOURCE, STAGE, run_id, records)
    checkpoint.plan.expect("e_visit")
    checkpoint.commit(run_id)
    return checkpoint.plan


def test_the_commit_records_the_runs_documents_and_a_later_run_trusts_them(db):
    assert synced(db, "r1", events(30)).mode == "full"
    stored = WatermarkStore(db).load(SOURCE, STAGE)
    assert stored["stream"] == {"seen_tag": "events@r1", "documents": 30, "stream_size": 30}
    assert synced(db, "r2", events(5, "w")).mode == "incremental"


def test_a_lost_stream_or_a_lost_run_record_makes_the_next_run_full(db):
    synced(db, "r1", events(30))
    store = WatermarkStore(db)
    db[f"source_{SOURCE}_stream"].delete_many({"hubspot_id": {"$in": ["1", "2"]}})
    problem = store.stream_problem(SOURCE, STAGE, store.load(SOURCE, STAGE))
    assert "holds 28 documents, 30 when the watermark was committed" in problem
    plan = Checkpoint.load(store, SOURCE, STAGE, SyncPolicy()).plan
    assert plan.mode == "full" and "data was lost" in plan.metadata()["mode_reason"]

    db.drop_collection(f"source_{SOURCE}_stream")
    db["stream_runs"].delete_many({})
    problem = store.stream_problem(SOURCE, STAGE, store.load(SOURCE, STAGE))
    assert "stream_runs has no finished run" in problem
    # A full refresh needs no check.
    assert Checkpoint.load(store, SOURCE, STAGE, SyncPolicy(full_refresh=True)).plan.reason == (
        "full refresh requested")


def test_a_run_whose_documents_are_gone_is_caught_even_if_the_stream_kept_its_size(db):
    synced(db, "r1", events(10))
    stream = db[f"source_{SOURCE}_stream"]
    stream.update_many({}, {"$set": {"seen_in": []}})  # the tags gone, the size kept
    store = WatermarkStore(db)
    problem = store.stream_problem(SOURCE, STAGE, store.load(SOURCE, STAGE))
    assert problem.startswith("the stream holds 0 of the 10 documents events@r1 stored")


def test_malformed_evidence_is_distrusted_and_none_at_all_is_legacy(db):
    synced(db, "r1", events(3))
    store = WatermarkStore(db)
    assert store.stream_problem(SOURCE, STAGE, {"units": {}, "stream": "x"})
    assert store.stream_problem(SOURCE, STAGE, {"units": {}, "stream": {"seen_tag": 3}})
    assert store.stream_problem(SOURCE, STAGE, {"units": {}}) is None
    assert SyncPlan(None, SyncPolicy()).reason == "first sync"


def test_data_lost_while_a_run_is_under_way_withdraws_its_watermarks(db):
    synced(db, "r1", events(30))
    for lose in ("database", "run's inserts"):
        store = WatermarkStore(db)
        checkpoint = Checkpoint.load(store, SOURCE, STAGE, SyncPolicy())
        if lose == "database":
            db.client.drop_database(db.name)  # a failover to an empty node, mid-run
        write_stream(db, SOURCE, STAGE, f"r2-{lose}", events(10, lose))
        if lose != "database":
            db[f"source_{SOURCE}_stream"].delete_many({"data.v": lose})
        checkpoint.plan.expect("e_visit")
        checkpoint.commit(f"r2-{lose}")
        assert "data was lost" in checkpoint.withdrawn, lose
        assert checkpoint.metadata()["watermarks_withdrawn"] == checkpoint.withdrawn
        assert store.load(SOURCE, STAGE) is None
        synced(db, "r3", events(30))  # a full run: trusted again
