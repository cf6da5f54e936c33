"""Source ids become collection names: check them first.

MongoDB forbids `$` and NUL in collection names, `/\\. "$*<>:|?` in
database names, empty names and namespaces (`db.collection`) over 255 bytes.
We allow a conservative alphabet so an id can never escape its collection
or clash with MongoDB's reserved names.
"""

from __future__ import annotations

import re

STREAM_PREFIX = "source_"
STREAM_SUFFIX = "_stream"
MAX_NAMESPACE_BYTES = 255
MAX_DATABASE_BYTES = 63
_SOURCE_ID_RE = re.compile(r"[A-Za-z0-9_-]+")
_DATABASE_FORBIDDEN = set('/\\. "$*<>:|?\x00')


class InvalidSourceId(ValueError):
    """A source id that cannot name a MongoDB collection."""


class InvalidDatabaseName(ValueError):
    """A database name MongoDB would reject."""


def validate_database_name(database: str) -> str:
    """Return `database` unchanged or raise InvalidDatabaseName."""
    if not isinstance(database, str) or not database:
        raise InvalidDatabaseName("the MongoDB database name is empty; set e.g. database='hubspot'")
    bad = sorted({c for c in database if c in _DATABASE_FORBIDDEN})
    if bad:
        raise InvalidDatabaseName(
            f"MongoDB database name {database!r} contains {', '.join(map(repr, bad))}; "
            "use letters, digits, '_' or '-'"
        )
    if len(database.encode("utf-8")) > MAX_DATABASE_BYTES:
        raise InvalidDatabaseName(
            f"MongoDB database name {database[:20]!r}... is longer than "
            f"{MAX_DATABASE_BYTES} bytes; choose a shorter name"
        )
    return database


def max_source_id_bytes(database: str) -> int:
    """Longest source id whose stream namespace still fits in 255 bytes."""
    overhead = len(database.encode("utf-8")) + 1 + len(STREAM_PREFIX) + len(STREAM_SUFFIX)
    return MAX_NAMESPACE_BYTES - overhead


def validate_source_id(source_id: object, database: str = "hubspot") -> str:
    """Return `source_id` unchanged if it can name a stream collection, else raise.

    The error says what is wrong and how to fix it (sources.yaml holds the ids).
    """
    fix = "rename the source in sources.yaml using only letters, digits, '_' and '-'"
    if not isinstance(source_id, str):
        raise InvalidSourceId(
            f"source id must be a string, got {type(source_id).__name__}; {fix}")
    if source_id == "":
        raise InvalidSourceId(f"source id is empty; {fix}")
    if source_id.strip() != source_id:
        raise InvalidSourceId(f"source id {source_id!r} has leading or trailing whitespace; {fix}")
    if ".." in source_id:
        raise InvalidSourceId(f"source id {source_id!r} contains '..'; {fix}")
    if not _SOURCE_ID_RE.fullmatch(source_id):
        bad = []
        for char in source_id:
            if not _SOURCE_ID_RE.fullmatch(char) and char not in bad:
                bad.append(char)
        shown = ", ".join(_describe(c) for c in bad)
        raise InvalidSourceId(f"source id {source_id!r} contains {shown}; {fix}")
    limit = max_source_id_bytes(validate_database_name(database))
    size = len(source_id.encode("utf-8"))
    if size > limit:
        raise InvalidSourceId(
            f"source id {source_id[:24]!r}... is {size} bytes; with database {database!r} the "
            f"namespace '{database}.{STREAM_PREFIX}<id>{STREAM_SUFFIX}' allows at most {limit} "
            f"bytes (MongoDB's limit is {MAX_NAMESPACE_BYTES}); choose a shorter source id"
        )
    return source_id


def _describe(char: str) -> str:
    names = {"\x00": "NUL", " ": "a space", "\t": "a tab", "\n": "a newline"}
    return names.get(char, repr(char))


def stream_collection_name(source_id: str, database: str = "hubspot") -> str:
    """`source_{id}_stream`, after validating the id."""
    return f"{STREAM_PREFIX}{validate_source_id(source_id, database)}{STREAM_SUFFIX}"
