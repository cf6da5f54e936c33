"""Execute MongoDB commands against mongomock, shaped like mongod's replies.

One `CommandExecutor` holds the data (a mongomock client) and the open
cursors; `execute(db, command)` returns the reply document. It runs one
command at a time (`executor.lock`): mongomock is not built for concurrency.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import bson
import mongomock
from bson.errors import BSONError
from bson.int64 import Int64
from bson.son import SON
from mongomock import aggregate as mm_aggregate
from mongomock import filtering
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from hubspot_assets_tests.mongo_standin.cursors import CursorNotFound, CursorRegistry
from hubspot_assets_tests.mongo_standin.fastpaths import (
    accelerate,
    count_documents,
    fast_upsert,
    find_documents,
)
from hubspot_assets_tests.mongo_standin.storage import (
    MAX_BSON_OBJECT_SIZE,
    DocumentTooLarge,
    EncodedServerStore,
)

SERVER_VERSION = "6.0.0"
MIN_WIRE_VERSION = 0
# 17 = MongoDB 6.0: inside pymongo 4.20's supported range (9..29).
MAX_WIRE_VERSION = 17
MAX_MESSAGE_SIZE = 48_000_000
MAX_WRITE_BATCH_SIZE = 100_000
# Test-sized data stays uncompressed (no CPU spent); a 100,000-contact sync
# holds ~6 GB of BSON, which compression brings to about 2 GB.
COMPRESS_ABOVE_BYTES = 512 << 20

_CODE_NAMES = {
    2: "BadValue", 9: "FailedToParse", 11: "UserNotFound", 14: "TypeMismatch",
    18: "AuthenticationFailed", 26: "NamespaceNotFound", 27: "IndexNotFound",
    40: "ConflictingUpdateOperators", 43: "CursorNotFound", 48: "NamespaceExists",
    59: "CommandNotFound", 72: "InvalidOptions", 73: "InvalidNamespace",
    85: "IndexOptionsConflict", 86: "IndexKeySpecsConflict", 115: "CommandNotSupported",
    11000: "DuplicateKey", 13113: "MergeStageNoMatchingDocument",
}

#: Commands that never change data; every other one counts as a write (persistence.py).
READ_ONLY_COMMANDS = frozenset({
    "hello", "ismaster", "ping", "buildinfo", "serverstatus", "connectionstatus", "hostinfo",
    "whatsmyuri", "endsessions", "killallsessions", "refreshsessions", "saslstart",
    "authenticate", "listdatabases", "listcollections", "listindexes", "collstats", "dbstats",
    "find", "getmore", "killcursors", "count", "distinct",
})


#: Commands that touch no data: answered without waiting for the command lock. MongoDB
#: answers them while other connections run long commands, and pymongo relies on it:
#: its monitor sends `hello` every 10 s with the connect timeout (20 s) as its deadline,
#: and a monitor check that times out resets the pool, cancelling the commands in flight
#: ("operation cancelled") -- a long aggregate would cancel itself.
LOCK_FREE_COMMANDS = frozenset({"hello", "ismaster", "ping", "buildinfo", "hostinfo",
                                "whatsmyuri"})


def _reads_only(name: str, command: dict[str, Any]) -> bool:
    """An aggregate without $merge/$out changes nothing (a freshness check's, say)."""
    if name.lower() != "aggregate":
        return False
    pipeline = command.get("pipeline") or []
    last = pipeline[-1] if pipeline and isinstance(pipeline[-1], dict) else {}
    return not ({"$merge", "$out"} & set(last))


class CommandError(Exception):
    """A command failure reported to the client as {ok: 0, code, errmsg}."""

    def __init__(self, code: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg

    def reply(self) -> dict[str, Any]:
        return {"ok": 0.0, "errmsg": self.errmsg, "code": self.code,
                "codeName": _CODE_NAMES.get(self.code, "UnknownError")}


def _is_operator_update(update: Any) -> bool:
    return isinstance(update, dict) and bool(update) and next(iter(update)).startswith("$")


def _sort_spec(sort: Any) -> list[tuple[str, int]] | None:
    if not sort:
        return None
    return [(key, direction) for key, direction in sort.items()]


def _sorted(docs: Iterator[dict], sort: dict) -> list[dict]:
    """Sort like MongoDB (mongomock's type-aware keys), last key first."""
    result = list(docs)
    for key, direction in reversed(list(sort.items())):
        if key == "$natural":
            if direction < 0:
                result.reverse()
            continue
        if isinstance(direction, dict):
            raise NotImplementedError(f"sorting by {direction}")
        result.sort(key=lambda d, k=key: filtering.resolve_sort_key(k, d), reverse=direction < 0)
    return result


def _check_conflicts(update: dict) -> None:
    """MongoDB refuses an update naming one path (or a path and its parent) twice."""
    seen: set[str] = set()
    paths = [path for fields in update.values() if isinstance(fields, dict) for path in fields]
    for path in sorted(paths, key=lambda p: p.count(".")):  # parents before children
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if prefix in seen:
                raise OperationFailure(
                    f"Updating the path '{path}' would create a conflict at '{prefix}'", code=40)
        seen.add(path)


class CommandExecutor:
    """MongoDB commands on top of one in-memory mongomock client (documents stored as BSON)."""

    def __init__(self, compress_above: int = COMPRESS_ABOVE_BYTES) -> None:
        self.client = mongomock.MongoClient(_store=EncodedServerStore(compress_above))
        self.cursors = CursorRegistry()
        self.lock = threading.RLock()
        self.started = time.time()
        self.connections = 0
        # Commands that may have changed data (a snapshot is due when this moves).
        self.writes = 0
        self._handlers: dict[str, Callable[[str, dict], dict]] = {}
        for attr in dir(self):
            if attr.startswith("cmd_"):
                self._handlers[attr[4:].lower()] = getattr(self, attr)

    # -- entry point ------------------------------------------------------

    def execute(self, db_name: str, command: dict[str, Any]) -> dict[str, Any]:
        if not command:
            return CommandError(59, "empty command").reply()
        name = next(iter(command))
        handler = self._handlers.get(name.lower())
        if handler is None:
            return CommandError(59, f"no such command: '{name}'").reply()
        with contextlib.nullcontext() if name.lower() in LOCK_FREE_COMMANDS else self.lock:
            if name.lower() not in READ_ONLY_COMMANDS and not _reads_only(name, command):
                self.writes += 1
            try:
                reply = handler(db_name, command)
            except CommandError as exc:
                return exc.reply()
            except CursorNotFound as exc:
                return CommandError(43, f"cursor id {exc.args[0]} not found").reply()
            except OperationFailure as exc:
                return CommandError(exc.code or 2, str(exc)).reply()
            except NotImplementedError as exc:
                return CommandError(115, f"not supported by the MongoDB stand-in: {exc}").reply()
            except (PyMongoError, BSONError, KeyError, TypeError, ValueError,
                    AttributeError) as exc:
                return CommandError(2, f"{type(exc).__name__}: {exc}").reply()
        reply.setdefault("ok", 1.0)
        return reply

    def collection(self, db_name: str, name: Any, create: bool = False):
        """The mongomock collection; `create` keeps it listed even when emptied,
        as MongoDB keeps a collection that a write or an index created."""
        if not isinstance(name, str) or not name:
            raise CommandError(73, f"invalid collection name: {name!r}")
        collection = accelerate(self.client[db_name][name])
        if create:
            collection._store.create()
        return collection

    def _exists(self, db_name: str, name: str) -> bool:
        return name in self.client[db_name].list_collection_names()

    # -- handshake and server info -------------------------------------------

    def cmd_hello(self, db_name: str, cmd: dict) -> dict:
        return {
            "helloOk": True,
            "isWritablePrimary": True,
            "ismaster": True,
            "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE,
            "maxMessageSizeBytes": MAX_MESSAGE_SIZE,
            "maxWriteBatchSize": MAX_WRITE_BATCH_SIZE,
            "localTime": dt.datetime.now(dt.timezone.utc),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": self.connections,
            "minWireVersion": MIN_WIRE_VERSION,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
        }

    cmd_ismaster = cmd_hello

    def cmd_ping(self, db_name: str, cmd: dict) -> dict:
        return {}

    def cmd_buildinfo(self, db_name: str, cmd: dict) -> dict:
        return {"version": SERVER_VERSION, "versionArray": [6, 0, 0, 0],
                "gitVersion": "mongomock-standin", "bits": 64, "debug": False,
                "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE, "storageEngines": ["mongomock"],
                "modules": []}

    def cmd_serverstatus(self, db_name: str, cmd: dict) -> dict:
        return {"host": "standin", "version": SERVER_VERSION, "process": "mongod-standin",
                "pid": Int64(os.getpid()), "uptime": time.time() - self.started,
                "localTime": dt.datetime.now(dt.timezone.utc),
                "connections": {"current": self.connections},
                "metrics": {"cursor": {"open": {"total": len(self.cursors)}}}}

    def cmd_connectionstatus(self, db_name: str, cmd: dict) -> dict:
        return {"authInfo": {"authenticatedUsers": [], "authenticatedUserRoles": []}}

    def cmd_hostinfo(self, db_name: str, cmd: dict) -> dict:
        return {"system": {"hostname": "standin"}, "os": {"type": os.name}}

    def cmd_whatsmyuri(self, db_name: str, cmd: dict) -> dict:
        return {"you": "127.0.0.1"}

    def cmd_endsessions(self, db_name: str, cmd: dict) -> dict:
        return {}  # sessions carry no server state here

    cmd_killallsessions = cmd_endsessions
    cmd_refreshsessions = cmd_endsessions

    def cmd_saslstart(self, db_name: str, cmd: dict) -> dict:
        # PLAIN (one round trip, no SCRAM) accepts any user and password, so
        # tests can run with credentials in the URI and check they never leak.
        if cmd.get("mechanism") == "PLAIN":
            return {"conversationId": 1, "done": True, "payload": b""}
        raise CommandError(18, "Authentication failed: the MongoDB stand-in has no users; "
                               "connect without credentials or with authMechanism=PLAIN")

    cmd_authenticate = cmd_saslstart

    # -- databases and collections ---------------------------------------------

    def cmd_listdatabases(self, db_name: str, cmd: dict) -> dict:
        names = self.client.list_database_names()
        if cmd.get("nameOnly"):
            return {"databases": [{"name": n} for n in names]}
        return {"databases": [{"name": n, "sizeOnDisk": 0, "empty": False} for n in names],
                "totalSize": 0}

    def cmd_dropdatabase(self, db_name: str, cmd: dict) -> dict:
        self.client.drop_database(db_name)
        self.cursors.drop_namespace(db_name)
        return {"dropped": db_name}

    def cmd_listcollections(self, db_name: str, cmd: dict) -> dict:
        entries = []
        for name in sorted(self.client[db_name].list_collection_names()):
            entry = {"name": name, "type": "collection"}
            if not cmd.get("nameOnly"):
                entry.update(options={}, info={"readOnly": False},
                             idIndex={"v": 2, "key": {"_id": 1}, "name": "_id_"})
            entries.append(entry)
        wanted = cmd.get("filter") or {}
        entries = [e for e in entries if filtering.filter_applies(wanted, e)]
        batch = (cmd.get("cursor") or {}).get("batchSize")
        return self.cursors.first_batch(f"{db_name}.$cmd.listCollections", iter(entries),
                                        batch or len(entries) + 1)

    def cmd_create(self, db_name: str, cmd: dict) -> dict:
        name = cmd["create"]
        if self._exists(db_name, name):
            raise CommandError(48, f"Collection {db_name}.{name} already exists.")
        self.client[db_name].create_collection(name)
        return {}

    def cmd_drop(self, db_name: str, cmd: dict) -> dict:
        name = cmd["drop"]
        if not self._exists(db_name, name):
            raise CommandError(26, "ns not found")
        indexes = len(self.collection(db_name, name).index_information())
        self.client[db_name].drop_collection(name)
        self.cursors.drop_namespace(f"{db_name}.{name}")
        return {"ns": f"{db_name}.{name}", "nIndexesWas": indexes}

    def cmd_renamecollection(self, db_name: str, cmd: dict) -> dict:
        source_db, _, source = cmd["renameCollection"].partition(".")
        target_db, _, target = cmd["to"].partition(".")
        if source_db != target_db:
            raise NotImplementedError("renaming across databases")
        if cmd.get("dropTarget") and self._exists(target_db, target):
            self.client[target_db].drop_collection(target)
        self.collection(source_db, source).rename(target)
        return {}

    def cmd_collstats(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["collStats"])
        return {"ns": coll.full_name, "count": len(coll._store), "size": coll._store.data_size,
                "nindexes": len(coll.index_information())}

    def cmd_dbstats(self, db_name: str, cmd: dict) -> dict:
        names = self.client[db_name].list_collection_names()
        stores = [self.collection(db_name, n)._store for n in names]
        return {"db": db_name, "collections": len(names), "objects": sum(map(len, stores)),
                "dataSize": sum(s.data_size for s in stores)}

    # -- indexes -------------------------------------------------------------

    def cmd_createindexes(self, db_name: str, cmd: dict) -> dict:
        name = cmd["createIndexes"]
        created_collection = not self._exists(db_name, name)
        coll = self.collection(db_name, name, create=True)
        before = coll.index_information()
        for spec in cmd.get("indexes", []):
            keys = list(spec["key"].items())
            index_name = spec.get("name")
            existing = before.get(index_name)
            if existing is not None:
                if list(existing["key"]) != keys:
                    raise CommandError(86, f"An existing index has the same name "
                                           f"({index_name}) as the requested index")
                continue
            options = {k: v for k, v in spec.items() if k not in ("key", "v", "ns")}
            coll.create_index(keys, **options)
        after = coll.index_information()
        reply = {"createdCollectionAutomatically": created_collection,
                 "numIndexesBefore": len(before) or 1, "numIndexesAfter": len(after)}
        if len(after) == len(before):
            reply["note"] = "all indexes already exist"
        return reply

    def cmd_listindexes(self, db_name: str, cmd: dict) -> dict:
        name = cmd["listIndexes"]
        if not self._exists(db_name, name):
            raise CommandError(26, f"ns does not exist: {db_name}.{name}")
        entries = []
        for index_name, info in self.collection(db_name, name).index_information().items():
            entry = {"v": 2, "key": SON(info["key"]), "name": index_name}
            entry.update({k: v for k, v in info.items() if k not in ("key", "v", "ns")})
            entries.append(entry)
        return self.cursors.first_batch(f"{db_name}.$cmd.listIndexes.{name}", iter(entries),
                                        len(entries) + 1)

    def cmd_dropindexes(self, db_name: str, cmd: dict) -> dict:
        name = cmd["dropIndexes"]
        coll = self.collection(db_name, name)
        before = len(coll.index_information())
        target = cmd.get("index")
        if target == "*":
            coll.drop_indexes()
        else:
            if isinstance(target, dict):
                wanted = list(target.items())
                target = next((n for n, i in coll.index_information().items()
                               if list(i["key"]) == wanted), None)
            if target not in coll.index_information():
                raise CommandError(27, f"index not found with name [{target}]")
            coll.drop_index(target)
        return {"nIndexesWas": before}

    # -- writes --------------------------------------------------------------

    def cmd_insert(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["insert"], create=True)
        ordered = cmd.get("ordered", True)
        inserted, errors = 0, []
        for index, document in enumerate(cmd.get("documents", [])):
            try:
                coll.insert_one(document)
                inserted += 1
            except PyMongoError as exc:
                errors.append(self._write_error(index, exc, coll))
                if ordered:
                    break
        return self._write_reply({"n": inserted}, errors)

    def cmd_update(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["update"], create=True)
        ordered = cmd.get("ordered", True)
        matched = modified = 0
        upserted: list[dict] = []
        errors: list[dict] = []
        for index, op in enumerate(cmd.get("updates", [])):
            try:
                result = self._update_one_op(coll, op)
            except PyMongoError as exc:
                errors.append(self._write_error(index, exc, coll))
                if ordered:
                    break
                continue
            if result.upserted_id is not None:
                upserted.append({"index": index, "_id": result.upserted_id})
            else:
                matched += result.matched_count
                modified += result.modified_count
        reply = {"n": matched + len(upserted), "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        return self._write_reply(reply, errors)

    def _update_one_op(self, coll, op: dict):
        try:
            return self._apply_update(coll, op)
        except DocumentTooLarge:
            # MongoDB's codes for an update's result over the limit. A refused
            # document changed nothing, so whether it existed can be asked now.
            if op.get("upsert") and coll.find_one(op.get("q", {}), {"_id": 1}) is None:
                raise OperationFailure(f"Document to upsert is larger than "
                                       f"{MAX_BSON_OBJECT_SIZE}", code=17420) from None
            raise OperationFailure(f"Resulting document after update is larger than "
                                   f"{MAX_BSON_OBJECT_SIZE}", code=17419) from None

    def _apply_update(self, coll, op: dict):
        if op.get("arrayFilters"):
            raise NotImplementedError("arrayFilters")
        inserted = _encoded_insert(op)
        outcome = fast_upsert(coll, op, inserted)
        if outcome is not None:
            return outcome
        query, update = op.get("q", {}), op["u"]
        upsert, multi = bool(op.get("upsert")), bool(op.get("multi"))
        if _is_operator_update(update):
            _check_conflicts(update)
        if isinstance(update, list) or _is_operator_update(update):
            method = coll.update_many if multi else coll.update_one
            return method(query, update, upsert=upsert)
        if multi:
            raise CommandError(9, "multi update is not supported for replacement-style update")
        return coll.replace_one(query, update, upsert=upsert)

    def cmd_delete(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["delete"])
        ordered = cmd.get("ordered", True)
        deleted, errors = 0, []
        for index, op in enumerate(cmd.get("deletes", [])):
            try:
                method = coll.delete_one if op.get("limit") == 1 else coll.delete_many
                deleted += method(op.get("q", {})).deleted_count
            except PyMongoError as exc:
                errors.append(self._write_error(index, exc, coll))
                if ordered:
                    break
        return self._write_reply({"n": deleted}, errors)

    def cmd_findandmodify(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["findAndModify"])
        query = cmd.get("query") or {}
        sort = _sort_spec(cmd.get("sort"))
        fields = cmd.get("fields")
        if cmd.get("remove"):
            removed = coll.find_one_and_delete(query, projection=fields, sort=sort)
            return {"lastErrorObject": {"n": int(removed is not None)}, "value": removed}
        update = cmd["update"]
        before = coll.find_one(query, sort=sort)
        kwargs = {"sort": sort, "upsert": bool(cmd.get("upsert")),
                  "return_document": ReturnDocument.AFTER}
        try:
            if isinstance(update, list) or _is_operator_update(update):
                after = coll.find_one_and_update(query, update, **kwargs)
            else:
                after = coll.find_one_and_replace(query, update, **kwargs)
        except DuplicateKeyError as exc:
            raise CommandError(11000, self._duplicate_message(coll, exc)) from None
        last_error: dict[str, Any] = {"n": 0, "updatedExisting": before is not None}
        if before is not None:
            last_error["n"] = 1
        elif after is not None:
            last_error.update(n=1, upserted=after["_id"])
        value = after if cmd.get("new") else before
        if value is not None and fields:
            value = coll._copy_only_fields(value, fields, dict)
        return {"lastErrorObject": last_error, "value": value}

    @staticmethod
    def _write_reply(reply: dict, errors: list[dict]) -> dict:
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _write_error(self, index: int, exc: PyMongoError, coll) -> dict:
        code = getattr(exc, "code", None) or 2
        message = str(exc)
        if code == 11000:
            message = self._duplicate_message(coll, exc)
        return {"index": index, "code": code, "errmsg": message}

    @staticmethod
    def _duplicate_message(coll, exc: PyMongoError) -> str:
        return f"E11000 duplicate key error collection: {coll.full_name} ({exc})"

    # -- reads ---------------------------------------------------------------

    def cmd_find(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["find"])
        docs = self._find_docs(coll, cmd.get("filter") or {}, cmd.get("projection"),
                               cmd.get("sort"), cmd.get("skip") or 0, cmd.get("limit") or 0)
        single = bool(cmd.get("singleBatch")) or (cmd.get("limit") or 0) < 0
        return self.cursors.first_batch(coll.full_name, docs, cmd.get("batchSize"), single)

    def _find_docs(self, coll, query: dict, projection: Any, sort: Any, skip: int,
                   limit: int) -> Iterator[Any]:
        # Not mongomock's Cursor: it re-slices its whole result list on every
        # next(), which makes reading n documents O(n^2). Unsorted results go
        # to the reply as the bytes they are stored as (or their projection).
        limit = abs(limit)
        docs = None if sort else find_documents(coll, query, projection)
        if docs is None:
            docs = coll._iter_documents(query)
            if sort:
                docs = iter(_sorted(docs, sort))
            if projection:
                # _copy_only_fields consumes its spec, hence a fresh dict per document.
                docs = (coll._copy_only_fields(d, dict(projection), dict) for d in docs)
        return itertools.islice(docs, skip, skip + limit if limit else None)

    def cmd_getmore(self, db_name: str, cmd: dict) -> dict:
        return self.cursors.get_more(int(cmd["getMore"]), cmd.get("batchSize"))

    def cmd_killcursors(self, db_name: str, cmd: dict) -> dict:
        killed, missing = self.cursors.kill(cmd.get("cursors", []))
        return {"cursorsKilled": killed, "cursorsNotFound": missing, "cursorsAlive": [],
                "cursorsUnknown": []}

    def cmd_count(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["count"])
        skip, limit = cmd.get("skip") or 0, abs(cmd.get("limit") or 0)
        total = max(0, count_documents(coll, cmd.get("query") or {}) - skip)
        return {"n": min(total, limit) if limit else total}

    def cmd_distinct(self, db_name: str, cmd: dict) -> dict:
        coll = self.collection(db_name, cmd["distinct"])
        return {"values": coll.distinct(cmd["key"], cmd.get("query") or None)}

    def cmd_aggregate(self, db_name: str, cmd: dict) -> dict:
        target = cmd["aggregate"]
        if not isinstance(target, str):
            raise NotImplementedError("database-level aggregate")
        coll = self.collection(db_name, target)
        pipeline = list(cmd.get("pipeline") or [])
        batch_size = (cmd.get("cursor") or {}).get("batchSize")
        counted = self._fast_count(coll, pipeline)
        if counted is not None:
            return self.cursors.first_batch(coll.full_name, iter(counted), batch_size)
        merge = None
        if pipeline and "$merge" in pipeline[-1]:
            merge = pipeline.pop()["$merge"]
        results = self._run_pipeline(coll, pipeline)
        if merge is not None:
            self._merge_into(db_name, merge, results)
            results = []
        return self.cursors.first_batch(coll.full_name, iter(results), batch_size)

    def _run_pipeline(self, coll, pipeline: list[dict]) -> list[dict]:
        # A leading $match is applied with the fast paths and without decoding
        # the documents it rejects; the ones it keeps are fresh copies already.
        query = pipeline.pop(0)["$match"] if pipeline and "$match" in pipeline[0] else {}
        documents = list(coll._iter_documents(query))
        return list(mm_aggregate.process_pipeline(documents, coll.database, pipeline, None))

    def _fast_count(self, coll, pipeline: list[dict]) -> list[dict] | None:
        """countDocuments sends [$match, ($skip), ($limit), $group{_id: 1, n: {$sum: 1}}]."""
        if len(pipeline) < 2 or "$match" not in pipeline[0] or "$group" not in pipeline[-1]:
            return None
        group = pipeline[-1]["$group"]
        if len(group) != 2 or group.get("_id") not in (1, None):
            return None
        (field, acc), = ((k, v) for k, v in group.items() if k != "_id")
        if acc != {"$sum": 1}:
            return None
        skip = limit = 0
        for stage in pipeline[1:-1]:
            if "$skip" in stage:
                skip = stage["$skip"]
            elif "$limit" in stage:
                limit = stage["$limit"]
            else:
                return None
        total = max(0, count_documents(coll, pipeline[0]["$match"]) - skip)
        total = min(total, limit) if limit else total
        return [{"_id": group["_id"], field: total}] if total else []

    def _merge_into(self, db_name: str, merge: Any, results: list[dict]) -> None:
        if isinstance(merge, str):
            merge = {"into": merge}
        into = merge["into"]
        if isinstance(into, dict):
            db_name, into = into.get("db", db_name), into["coll"]
        on = merge.get("on", "_id")
        on_fields = [on] if isinstance(on, str) else list(on)
        matched_action = merge.get("whenMatched", "merge")
        unmatched_action = merge.get("whenNotMatched", "insert")
        if not isinstance(matched_action, str):
            raise NotImplementedError("$merge whenMatched pipelines")
        target = self.collection(db_name, into)
        for document in results:
            key = {f: document.get(f) for f in on_fields}
            existing = next(iter(target._iter_documents(key)), None)
            if existing is None:
                if unmatched_action == "insert":
                    target.insert_one(document)
                elif unmatched_action == "fail":
                    raise CommandError(13113, "$merge could not find a matching document")
            elif matched_action == "replace":
                target.replace_one({"_id": existing["_id"]},
                                   {**document, "_id": existing["_id"]})
            elif matched_action == "merge":
                fields = {k: v for k, v in document.items() if k != "_id"}
                if fields:
                    target.update_one({"_id": existing["_id"]}, {"$set": fields})
            elif matched_action == "fail":
                raise CommandError(11000, "$merge found a matching document (whenMatched: fail)")


def _encoded_insert(op: dict) -> bytes | None:
    """An upsert's `$setOnInsert`, encoded (the fast path stores these bytes; the store
    checks the size of the whole document)."""
    update = op["u"]
    inserted = update.get("$setOnInsert") if op.get("upsert") and isinstance(update, dict) else None
    if not inserted:
        return None
    return bson.encode(inserted)
