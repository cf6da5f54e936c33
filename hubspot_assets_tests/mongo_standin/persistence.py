"""Keep the stand-in's data across restarts: snapshots in a data directory.

The stand-in holds everything in memory. With a data directory it loads
`snapshot.bson` on start, writes a new snapshot every `interval` seconds
while writes arrive, and once more on a clean stop. A snapshot is written to
a temporary file, flushed to disk and renamed over the old one, so a crash
(even SIGKILL in the middle of writing) leaves the previous snapshot whole:
what is lost is at most the writes since the last one.

File format: a magic line, then per collection one header document
(database, collection, indexes, document count) followed by that many
documents as they are stored (BSON), then a trailer document with the totals.
A file without its trailer or with wrong counts is refused with a message
naming it: loading part of the data without saying so would be worse.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import bson
from mongomock import helpers

from hubspot_assets_tests.mongo_standin.storage import DICT_CODEC, full, top_level

MAGIC = b"hubspot-assets mongo-standin snapshot v1\n"
SNAPSHOT_NAME = "snapshot.bson"
_INT32 = struct.Struct("<i")
#: Snapshots wait at least this many times as long as the last one took.
SAVE_SHARE = 10


class SnapshotError(Exception):
    """A snapshot that cannot be loaded; the message names the file and what to do."""


def snapshot_path(data_dir: Path) -> Path:
    return Path(data_dir) / SNAPSHOT_NAME


def _capture(executor) -> list[tuple[str, str, list[dict], list[tuple[Any, Any]]]]:
    """(db, collection, index specs, stored entries) of everything, at one instant.

    Taken under the executor's lock, so no command is half applied; the
    entries are the stored bytes (or packed objects), which later writes
    replace rather than change, so writing them out needs no lock.
    """
    captured = []
    client = executor.client
    for db_name in client.list_database_names():
        for name in client[db_name].list_collection_names():
            collection = client[db_name][name]
            indexes = []
            for index_name, info in collection.index_information().items():
                if index_name == "_id_":
                    continue
                options = {k: v for k, v in info.items() if k not in ("key", "v", "ns")}
                indexes.append({"name": index_name, "key": [list(k) for k in info["key"]],
                                "options": options})
            captured.append((db_name, name, indexes, collection._store.raw_snapshot()))
    return captured


def save_snapshot(executor, data_dir: Path) -> int:
    """Writes every database of `executor` to `data_dir` atomically; returns the documents."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with executor.lock:
        captured = _capture(executor)
    target = snapshot_path(data_dir)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    total = 0
    try:
        with open(temporary, "wb") as out:
            out.write(MAGIC)
            for db_name, name, indexes, entries in captured:
                out.write(bson.encode({"db": db_name, "collection": name, "indexes": indexes,
                                       "count": len(entries)}))
                for _, entry in entries:
                    out.write(full(entry))
                total += len(entries)
            out.write(bson.encode({"end": True, "collections": len(captured),
                                   "documents": total}))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(data_dir)  # the rename itself must reach the disk
    return total


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _documents(handle: BinaryIO, path: Path) -> Iterator[bytes]:
    while True:
        prefix = handle.read(4)
        if not prefix:
            return
        if len(prefix) < 4:
            raise SnapshotError(_damaged(path, "it ends inside a document"))
        size, = _INT32.unpack(prefix)
        rest = handle.read(size - 4)
        if size < 5 or len(rest) != size - 4:
            raise SnapshotError(_damaged(path, "it ends inside a document"))
        yield prefix + rest


def _damaged(path: Path, why: str) -> str:
    return (f"the MongoDB stand-in's snapshot {path} is damaged ({why}); move it away to "
            "start with an empty stand-in, or restore a copy")


def load_snapshot(executor, data_dir: Path) -> int:
    """Loads `data_dir`'s snapshot into an empty executor; returns the documents (0: none)."""
    path = snapshot_path(data_dir)
    if not path.exists():
        return 0
    loaded = 0
    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise SnapshotError(_damaged(path, "not a stand-in snapshot"))
        documents = _documents(handle, path)
        collections = 0
        for raw in documents:
            header = bson.decode(raw, DICT_CODEC)
            if header.get("end"):
                if (header.get("collections"), header.get("documents")) != (collections, loaded):
                    raise SnapshotError(_damaged(path, "its counts do not match"))
                if next(documents, None) is not None:
                    raise SnapshotError(_damaged(path, "data after its end"))
                return loaded
            collection = executor.collection(header["db"], header["collection"], create=True)
            for index in header.get("indexes", []):
                collection.create_index([tuple(k) for k in index["key"]], name=index["name"],
                                        **index.get("options", {}))
            store = collection._store
            for _ in range(header["count"]):
                data = next(documents, None)
                if data is None:
                    raise SnapshotError(_damaged(path, "it ends inside a collection"))
                store.put_raw(_store_key(top_level(data)["_id"]), data)
                loaded += 1
            collections += 1
    raise SnapshotError(_damaged(path, "it has no end marker"))


def _store_key(value: Any) -> Any:
    # mongomock keys its store by `_id`, an embedded document by its hashable form.
    if isinstance(value, bson.raw_bson.RawBSONDocument):
        value = bson.decode(value.raw, DICT_CODEC)
    return helpers.hashdict(value) if isinstance(value, dict) else value


class SnapshotKeeper:
    """Loads on `start()`, saves every `interval` seconds after writes, and on `stop()`."""

    def __init__(self, executor, data_dir: Path, interval: float = 30.0) -> None:
        self.executor = executor
        self.data_dir = Path(data_dir)
        self.interval = interval
        self._saved_writes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded = 0

    def start(self) -> SnapshotKeeper:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.loaded = load_snapshot(self.executor, self.data_dir)
        self._saved_writes = self.executor.writes
        self._thread = threading.Thread(target=self._run, name="standin-snapshots", daemon=True)
        self._thread.start()
        return self

    def save_if_changed(self) -> bool:
        writes = self.executor.writes
        if writes == self._saved_writes:
            return False
        save_snapshot(self.executor, self.data_dir)
        self._saved_writes = writes
        return True

    def _run(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            started = time.monotonic()
            try:
                if self.save_if_changed():
                    took = time.monotonic() - started
                    # A large store takes long to write: space the snapshots so
                    # that writing them takes at most a tenth of the time (CPU
                    # and disk the clients' commands need).
                    wait = max(self.interval, SAVE_SHARE * took)
                    print(f"snapshot saved in {took:.1f}s; next in {wait:.0f}s at the "
                          "earliest", file=sys.stderr, flush=True)
            except OSError as error:  # a full disk: say so, keep serving, try again later
                print(f"could not save a snapshot to {self.data_dir}: {error}",
                      file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Ends the timer and writes what changed since the last snapshot."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        started = time.monotonic()
        if self.save_if_changed():
            print(f"last snapshot saved in {time.monotonic() - started:.1f}s",
                  file=sys.stderr, flush=True)
