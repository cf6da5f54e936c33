"""Every collection of a source, with its indexes, asked of the server once per process."""

import pymongo

from hubspot_assets.mongo import collections


def test_indexes_are_created_once_per_collection_per_process(mongo_uri, mongo_database,
                                                              command_log):
    client = pymongo.MongoClient(mongo_uri, event_listeners=[command_log])
    try:
        db = client[mongo_database]
        for _ in range(3):
            stream = collections.stream_collection(db, "acme")
            objects = collections.objects_collection(db, "acme")
            edges = collections.relationships_collection(db, "acme")
        assert command_log.count("createIndexes") == 3
        assert (stream.name, objects.name, edges.name) == (
            "source_acme_stream", "source_acme_objects", "source_acme_relationships")
        names = {c.name: {i["name"] for i in c.list_indexes()} for c in (stream, objects, edges)}
        assert names == {
            "source_acme_stream": {"_id_", "seen_in", "versions", "kind_fetched"},
            "source_acme_objects": {"_id_", "type_archived", "updated_at"},
            "source_acme_relationships": {"_id_", "from", "to", "pair_removed"},
        }
        assert collections.runs_collection(db).name == "stream_runs"
        assert collections.watermarks_collection(db).name == "watermarks"
        assert collections.job_history_collection(db).name == "job_history"
    finally:
        client.close()
