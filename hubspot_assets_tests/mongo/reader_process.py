"""Run as a separate process: read a source's latest stage output via pymongo.

    python -m hubspot_assets_tests.mongo.reader_process URI DATABASE SOURCE STAGE

Prints one JSON line: how many documents, distinct ids, and a checksum.
"""

from __future__ import annotations

import hashlib
import json
import sys

from hubspot_assets.mongo.collections import runs_collection, stream_collection
from hubspot_assets.mongo.connection import get_database
from hubspot_assets.mongo.stored_stream import latest_stream
from hubspot_assets.stream.naming import SourceNames


def main(uri: str, database: str, source_id: str, stage: str) -> dict:
    db = get_database(uri, database)
    latest = runs_collection(db).find_one({"_id": SourceNames(source_id).stage_key(stage)})
    stream = latest_stream(db, source_id, stage).filter(
        projection={"hubspot_id": 1, "data_hash": 1})
    ids: set[str] = set()
    digest = hashlib.sha256()
    count = 0
    for document in stream:
        count += 1
        ids.add(document["hubspot_id"])
        digest.update(document["data_hash"].encode())
    return {"count": count, "distinct_ids": len(ids), "run_id": latest["run_id"],
            "total": stream_collection(db, source_id).count_documents({}),
            "hash_xor_order": digest.hexdigest()[:8]}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])), flush=True)
