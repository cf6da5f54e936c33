"""write_stream: one record MongoDB cannot store is one stub and one recorded error; the
rest of the batch, and the stage, go on."""

from hubspot_assets.mongo.collections import runs_collection
from hubspot_assets.mongo.connection import get_database
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.records import OBJECT, StreamRecord


def contact(hubspot_id, **properties):
    data = {"id": hubspot_id, "properties": properties, "archived": False,
            "updatedAt": "2026-02-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z"}
    return StreamRecord(OBJECT, "contacts", hubspot_id, data, data["updatedAt"])


BAD = {
    "nul": contact("nul", **{"bad\x00name": "x"}),         # BSON keys cannot hold NUL
    "overflow": contact("overflow", score=2 ** 70),        # BSON ints are 64-bit at most
    "huge": contact("huge", notes="x" * (17 << 20)),       # over MongoDB's 16 MiB
}


def test_records_mongodb_cannot_store_become_stubs_counted_and_listed(mongo_uri, mongo_database):
    db = get_database(mongo_uri, mongo_database)
    records = [contact(str(i), email=f"{i}@x") for i in range(10)]
    records[3:3] = BAD.values()
    summary = write_stream(db, "bad", "object_records", "run-1", records, batch_size=5)
    assert summary.count == 13 and summary.new == 13 and summary.too_large == 1
    metadata = summary.metadata()
    assert metadata["records_stubbed"] == 3
    assert sorted(s["hubspot_id"] for s in metadata["records_stubbed_ids"]) == sorted(BAD)
    assert len(summary.error_details()) == 3
    stream = db["source_bad_stream"]
    assert stream.count_documents({"data": {"$ne": None}}) == 10
    for hubspot_id, reason in (("nul", "NUL"), ("overflow", "8-byte ints"), ("huge", "16 MB")):
        stub = stream.find_one({"hubspot_id": hubspot_id})
        assert stub["data"] is None and reason in stub["data_omitted"], stub["data_omitted"]
        assert stub["data_outline"] == {k: v for k, v in BAD[hubspot_id].data.items()
                                        if k != "properties"}
    # Idempotent: the same records again add nothing. Those BSON refuses are reported
    # again; the huge one matches its stub ($setOnInsert is not applied), so it may not be.
    again = write_stream(db, "bad", "object_records", "run-2", records, batch_size=5)
    assert (again.new, again.unchanged) == (0, 13)
    assert {"nul", "overflow"} <= {s["hubspot_id"] for s in again.stubbed}
    assert stream.count_documents({}) == 13


def test_records_fetched_before_the_stream_fails_are_kept(mongo_uri, mongo_database):
    """A fatal error mid-stream (the daily budget spent, a kill) ends the stage, but
    the records already fetched are written, not only the full batches."""
    db = get_database(mongo_uri, mongo_database)

    def fetched_then_fatal():
        for i in range(7):
            yield contact(str(i), email=f"{i}@x")
        raise RuntimeError("daily API limit reached")

    try:
        write_stream(db, "cut", "object_records", "run-1", fetched_then_fatal(), batch_size=5)
    except RuntimeError as exc:
        assert "daily" in str(exc)
    else:
        raise AssertionError("the stream's error must reach the caller")
    assert db["source_cut_stream"].count_documents({}) == 7
    # The failed run is never recorded as a finished stream (load_input must not read it).
    assert runs_collection(db).count_documents({"run_id": "run-1"}) == 0
