"""MongoDB layer: document contract, pymongo IO manager, local MongoDB stand-in."""

from hubspot_assets.mongo.connection import get_client, get_database, stream_collection
from hubspot_assets.mongo.documents import KINDS, StreamRecord
from hubspot_assets.mongo.naming import InvalidSourceId, validate_source_id
from hubspot_assets.mongo.redaction import redact_uri
from hubspot_assets.mongo.stored_stream import StoredStream, latest_stream

__all__ = [
    "KINDS", "InvalidSourceId", "MongoResource", "MongoStreamError", "MongoStreamIOManager",
    "StoredStream", "StreamNotMaterialized", "StreamRecord", "get_client", "get_database",
    "latest_stream", "redact_uri", "stream_collection", "validate_source_id",
]


def __getattr__(name: str):
    # The IO manager imports Dagster; load it only when asked so that plain
    # tools (benchmark writers, the stand-in) stay light.
    if name in ("MongoStreamIOManager", "MongoStreamError", "StreamNotMaterialized"):
        from hubspot_assets.mongo import io_manager

        return getattr(io_manager, name)
    if name == "MongoResource":
        from hubspot_assets.mongo.resource import MongoResource

        return MongoResource
    raise AttributeError(name)
