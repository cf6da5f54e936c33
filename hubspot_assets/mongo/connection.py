"""One MongoClient per URI per process (collections are named in `collections`)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

import pymongo
from pymongo.database import Database
from pymongo.errors import ConfigurationError, OperationFailure, ServerSelectionTimeoutError

from hubspot_assets.mongo.redaction import redact_text, redact_uri, uri_secrets
from hubspot_assets.stream.naming import InvalidDatabaseName, validate_database_name

_lock = threading.Lock()
# Keyed by (pid, sha256(uri)): a forked child must not reuse its parent's
# sockets, and the URI (it may hold a password) is not kept as a dict key.
_clients: dict[tuple[int, str], pymongo.MongoClient] = {}

#: How long the first check of a run waits for a server: a wrong host or a closed
#: port must fail the run in seconds, not after pymongo's selection timeout.
CHECK_TIMEOUT_MS = 3_000
#: How long the check waits once a server was found but did not answer in time: a
#: busy server (a long command, an election) is not a configuration mistake.
PATIENT_CHECK_TIMEOUT_MS = 30_000
# What pymongo reports when nothing listens or the name does not resolve: a
# mistake in the URI, reported at once. Anything else (a timeout) is waited out.
_UNREACHABLE = ("connection refused", "name or service not known", "nodename nor servname",
                "no address associated", "temporary failure in name resolution")
# MongoDB's AuthenticationFailed; the others (Unauthorized 13, ...) need a command.
_AUTH_FAILED = 18
_checked: dict[tuple, MongoConfigurationError | None] = {}


class MongoConfigurationError(ValueError):
    """The MongoDB URI or database cannot work: malformed, unreachable or refused
    credentials. Retrying cannot help; the message (credentials scrubbed) names the fix."""


def check_connection(uri: str, database: str, run_id: str | None = None) -> None:
    """Ping the server once, quickly; raise MongoConfigurationError if the settings are wrong.

    A success is remembered for the process; a failure for `run_id` (a run's
    later steps fail at once too, while a fixed setting works for the next run).
    """
    ok_key = (os.getpid(), _uri_key(uri), database)
    failed_key = (*ok_key, run_id)
    with _lock:
        if ok_key in _checked:
            return
        if run_id is not None and failed_key in _checked:
            raise _checked[failed_key]
    error = _ping(uri, database)
    with _lock:
        if error is None:
            _checked[ok_key] = None
            return
        if run_id is not None:
            _checked[failed_key] = error
    raise error


def _ping(uri: str, database: str) -> MongoConfigurationError | None:
    where = redact_uri(uri)
    try:
        name = validate_database_name(database)
        try:
            _ping_once(uri, name, CHECK_TIMEOUT_MS)
        except ServerSelectionTimeoutError as exc:
            if any(sign in str(exc).lower() for sign in _UNREACHABLE):
                raise
            # Something is there but slow to answer: wait for it as real work would.
            _ping_once(uri, name, PATIENT_CHECK_TIMEOUT_MS)
        return None
    except InvalidDatabaseName as exc:
        return MongoConfigurationError(f"{exc} (MONGODB_DATABASE)")
    except ServerSelectionTimeoutError as exc:
        return _config_error(uri, exc, f"no MongoDB server answered at {where}",
                             "check the hosts and port in MONGODB_URI, that the server is "
                             "running, and that this machine may reach it")
    except ConfigurationError as exc:  # InvalidURI included
        return _config_error(uri, exc, f"MONGODB_URI is not a usable MongoDB URI ({where})",
                             "write it as mongodb://HOST:27017/ or mongodb+srv://HOST/, "
                             "with USER:PASSWORD@ before the host and special characters "
                             "in the password percent-encoded")
    except OperationFailure as exc:
        if exc.code != _AUTH_FAILED:
            raise
        return _config_error(uri, exc, f"MongoDB at {where} refused the credentials in "
                             "MONGODB_URI", "fix the user name, password or authSource "
                             "(and authMechanism)")


def _ping_once(uri: str, database: str, timeout_ms: int) -> None:
    """Ping with a client of its own (the shared one keeps its longer timeout for real
    work); the client is closed whatever happens."""
    options = ({} if "serverselectiontimeoutms" in uri.lower()
               else {"serverSelectionTimeoutMS": timeout_ms})
    client = pymongo.MongoClient(uri, connect=False, appname="hubspot_assets-check", **options)
    try:
        client[database].command("ping")
    finally:
        client.close()


def _config_error(uri: str, exc: Exception, problem: str, fix: str) -> MongoConfigurationError:
    # pymongo appends the whole topology description: the first error says enough.
    text = str(exc).split(", Topology Description")[0]
    cause = redact_text(f"{type(exc).__name__}: {text}", *uri_secrets(uri))
    return MongoConfigurationError(f"{problem}: {cause[:500]}. Fix: {fix}.")


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
