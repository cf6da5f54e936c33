"""A source's names: its id, checked once by one rule, and every collection and key
derived from it.

The id becomes part of MongoDB collection names, so it is held to a
conservative alphabet: MongoDB forbids `$` and NUL in collection names and
`/\\. "$*<>:|?` in database names, and a namespace (`db.collection`) may not
pass 255 bytes. With ids of at most 64 ASCII characters and database names of
at most 63 bytes, the longest namespace (`<db>.source_<id>_relationships`) is
149 bytes, so no id that passes this rule can fail on MongoDB.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_SOURCE_ID_LENGTH = 64
MAX_DATABASE_BYTES = 63
_SOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_ID_CHAR = re.compile(r"[A-Za-z0-9_-]")
_DATABASE_FORBIDDEN = set('/\\. "$*<>:|?\x00')
_FIX = ("use 1-64 letters, digits, '_' or '-', starting with a letter or digit "
        "(rename the source in sources.yaml)")

#: Collections shared by every source of a database.
RUNS_COLLECTION = "stream_runs"          # latest finished materialization of each (source, stage)
WATERMARKS_COLLECTION = "watermarks"     # how far each (source, stage) is safely synced
JOB_HISTORY_COLLECTION = "job_history"   # one document per finished run

#: Stage names whose data other stages read (each is its asset's name).
OBJECT_DOWNLOAD_LIST = "object_download_list"
OBJECT_RECORDS = "object_records"
PROPERTY_HISTORY_STAGE = "property_history"
RELATIONSHIPS = "relationships"
CONSOLIDATED_OBJECTS = "consolidated_objects"
CONSOLIDATED_RELATIONSHIPS = "consolidated_relationships"
CONSOLIDATED_REFERENCE = "consolidated_reference"
EVENTS = "events"
CONSOLIDATED_MARKETING = "consolidated_marketing"


class InvalidSourceId(ValueError):
    """A source id that cannot name a MongoDB collection."""


class InvalidDatabaseName(ValueError):
    """A database name MongoDB would reject."""


def validate_source_id(source_id: object) -> str:
    """Return ``source_id`` unchanged if it is a valid source id, else raise with the fix."""
    if not isinstance(source_id, str):
        raise InvalidSourceId(f"a source id must be a string, got {type(source_id).__name__}; "
                              f"{_FIX}")
    problem = _id_problem(source_id)
    if problem:
        raise InvalidSourceId(f"{source_id[:MAX_SOURCE_ID_LENGTH]!r} is not a valid source id: "
                              f"{problem}; {_FIX}")
    return source_id


def _id_problem(source_id: str) -> str | None:
    if source_id == "":
        return "it is empty"
    if len(source_id) > MAX_SOURCE_ID_LENGTH:
        return f"it is {len(source_id)} characters long"
    bad = [c for c in dict.fromkeys(source_id) if not _ID_CHAR.fullmatch(c)]
    if bad:
        return "it contains " + ", ".join(_describe(c) for c in bad)
    if not _SOURCE_ID.fullmatch(source_id):
        return f"it starts with {source_id[0]!r}"
    return None


def _describe(char: str) -> str:
    names = {"\x00": "NUL", " ": "a space", "\t": "a tab", "\n": "a newline"}
    return names.get(char, repr(char))


def validate_database_name(database: str) -> str:
    """Return ``database`` unchanged or raise InvalidDatabaseName."""
    if not isinstance(database, str) or not database:
        raise InvalidDatabaseName("the MongoDB database name is empty; set e.g. database='hubspot'")
    bad = sorted({c for c in database if c in _DATABASE_FORBIDDEN})
    if bad:
        raise InvalidDatabaseName(
            f"MongoDB database name {database!r} contains {', '.join(map(repr, bad))}; "
            "use letters, digits, '_' or '-'")
    if len(database.encode("utf-8")) > MAX_DATABASE_BYTES:
        raise InvalidDatabaseName(
            f"MongoDB database name {database[:20]!r}... is longer than "
            f"{MAX_DATABASE_BYTES} bytes; choose a shorter name")
    return database


@dataclass(frozen=True)
class SourceNames:
    """Every name derived from one source id; building one validates the id."""

    source_id: str

    def __post_init__(self) -> None:
        validate_source_id(self.source_id)

    @property
    def stream(self) -> str:
        """Every record version every stage fetched."""
        return f"source_{self.source_id}_stream"

    @property
    def objects(self) -> str:
        """The current state of every object."""
        return f"source_{self.source_id}_objects"

    @property
    def relationships(self) -> str:
        """The current state of every association edge."""
        return f"source_{self.source_id}_relationships"

    @property
    def owners(self) -> str:
        """Every owner, live and archived, as last read."""
        return f"source_{self.source_id}_owners"

    @property
    def pipelines(self) -> str:
        """Every pipeline of every object type, with its stages."""
        return f"source_{self.source_id}_pipelines"

    @property
    def properties(self) -> str:
        """Every property definition of every object type (sensitive ones included)."""
        return f"source_{self.source_id}_properties"

    @property
    def association_labels(self) -> str:
        """Every association type and label definition, both directions of every pair."""
        return f"source_{self.source_id}_association_labels"

    @property
    def property_history(self) -> str:
        """Every past value of the properties whose history a source opted into."""
        return f"source_{self.source_id}_property_history"

    @property
    def lists(self) -> str:
        """Every list (contacts, companies, ...) with its filters and member count."""
        return f"source_{self.source_id}_lists"

    @property
    def list_memberships(self) -> str:
        """Every list membership, those HubSpot no longer lists marked removed."""
        return f"source_{self.source_id}_list_memberships"

    @property
    def forms(self) -> str:
        """Every form (live and archived) with its submission count."""
        return f"source_{self.source_id}_forms"

    @property
    def marketing_emails(self) -> str:
        """Every marketing email, archived ones with `archived: true`."""
        return f"source_{self.source_id}_marketing_emails"

    @property
    def campaigns(self) -> str:
        """Every marketing campaign with its properties."""
        return f"source_{self.source_id}_campaigns"

    def stage_key(self, stage: str) -> str:
        """`_id` of a (source, stage) document in `stream_runs` and `watermarks`
        (source ids never contain '|')."""
        return f"{self.source_id}|{stage}"


def stage_name(asset_key_path: Sequence[str]) -> str:
    """The stage an asset key names: its last part, so a key prefix changes nothing."""
    return asset_key_path[-1]


def pair_unit(from_type: str, to_type: str) -> str:
    """The unit name of an association pair, as fetched (one direction)."""
    return f"{from_type}->{to_type}"


def object_key(object_type: str, hubspot_id: str) -> str:
    """`_id` of an object in `source_{id}_objects`: one document per (type, id)."""
    return f"{object_type}|{hubspot_id}"
