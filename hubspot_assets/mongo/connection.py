"""One MongoClient per URI per process (collections are named in `collections`)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

import pymongo
from pymongo.database import Database

from hubspot_assets.stream.naming import validate_database_name

_lock = threading.Lock()
# Keyed by (pid, sha256(uri)): a forked child must not reuse its parent's
# sockets, and the URI (it may hold a password) is not kept as a dict key.
_clients: dict[tuple[int, str], pymongo.MongoClient] = {}


def _uri_key(uri: str) -> str:
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()


def get_client(uri: str, **options: Any) -> pymongo.MongoClient:
    """The process-wide client for `uri` (created on first use, connects lazily)."""
    key = (os.getpid(), _uri_key(uri) + repr(sorted(options.items())))
    with _lock:
        client = _clients.get(key)
        if client is None:
            options.setdefault("appname", "hubspot_assets")
            if "serverselectiontimeoutms" not in uri.lower():
                # pymongo's 30 s default makes a wrong URI slow to report.
                options.setdefault("serverSelectionTimeoutMS", 15_000)
            client = pymongo.MongoClient(uri, connect=False, **options)
            _clients[key] = client
        return client


def get_database(uri: str, database: str) -> Database:
    """The database `database` on the process-wide client for `uri` (name checked)."""
    return get_client(uri)[validate_database_name(database)]
