"""Dagster resources: the rate-limited HubSpot client of each source, and MongoDB.

Configuration enters here, once: client knobs are `ClientSettings` (declared in
the HubSpot layer) nested as they are; the environment variables that set them
are listed in `CLIENT_ENVIRONMENT`; secrets travel as `dg.EnvVar`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr, ValidationError
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.hubspot.config import DEFAULT_BASE_URL, ClientConfig, ClientSettings
from hubspot_assets.mongo.collections import job_history_collection, stream_collection
from hubspot_assets.mongo.connection import MongoConfigurationError, check_connection, get_database
from hubspot_assets.mongo.redaction import redact_uri
from hubspot_assets.mongo.stored_stream import StoredStream, latest_stream
from hubspot_assets.registry import Registry, Source, load_registry

#: Environment variables read when the code location loads, by client setting.
CLIENT_ENVIRONMENT = {
    "limiter_backend": "HUBSPOT_LIMITER_BACKEND",
    "limiter_dir": "HUBSPOT_LIMITER_DIR",
    "redis_url": "HUBSPOT_REDIS_URL",
    "max_in_flight": "HUBSPOT_MAX_IN_FLIGHT",
    "two_ended_after_pages": "HUBSPOT_TWO_ENDED_AFTER_PAGES",
    "progress_seconds": "HUBSPOT_PROGRESS_SECONDS",
}


class HubSpotSettings(ClientSettings, dg.Config):
    """Client knobs shared by every source (see `ClientSettings` for each one)."""

    safety_margin: float = Field(
        default=0.0, ge=0.0, lt=1.0,
        description="Fraction of every HubSpot limit left unused for other apps.")
    progress_seconds: float = Field(
        default=10.0, gt=0.0,
        description="Seconds between two progress lines of one unit in a stage's log.")

    def client_settings(self) -> dict[str, Any]:
        """The values `ClientConfig` takes."""
        return {name: getattr(self, name) for name in ClientSettings.model_fields}


def settings_from_environment(environ: dict[str, str] | None = None) -> HubSpotSettings:
    """The client settings the environment sets (unset or empty: the default)."""
    environ = os.environ if environ is None else environ
    values = {field: environ[name].strip() for field, name in CLIENT_ENVIRONMENT.items()
              if environ.get(name, "").strip()}
    try:
        return HubSpotSettings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{CLIENT_ENVIRONMENT[str(e['loc'][0])]}={values[str(e['loc'][0])]!r}: {e['msg']}"
            if e["loc"] and str(e["loc"][0]) in values else e["msg"] for e in exc.errors())
        raise ValueError(f"bad HubSpot client setting in the environment: {problems} "
                         "(fix the value or unset it for the default)") from None


class HubSpotResource(dg.ConfigurableResource):
    """Hands out a HubSpot client per source id, every call through the shared limiter
    of its token's app and account (sources sharing a token share one budget).

    Tokens never pass through Dagster config: each source names the
    environment variable that holds its token.
    """

    sources_file: str = Field(description="Path of the source registry YAML (HUBSPOT_SOURCES_FILE).")
    settings: HubSpotSettings = Field(default_factory=HubSpotSettings,
                                      description="Client knobs shared by every source.")

    def registry(self) -> Registry:
        """The registry file, read now (it may change while the code location runs)."""
        return load_registry(self.sources_file)

    def source(self, source_id: str) -> Source:
        """The registry entry of a source, or an error naming the known ids."""
        return self.registry().get(source_id)

    def open_client(self, source: Source) -> HubSpotClient:
        """A new client for ``source``; the caller closes it."""
        config = ClientConfig(
            **self.settings.client_settings(),
            token=source.token(),
            base_url=source.base_url or DEFAULT_BASE_URL,
            budget=replace(source.budget, safety_margin=self.settings.safety_margin),
            token_source=f"${source.token_env}",
            source_label=source.id,
        )
        # source.id only labels messages: the budgets follow the token.
        return HubSpotClient(config, limiter_key=source.id)


def checked_database(uri: str, database: str, run_id: str | None) -> Database:
    """The database, once a quick ping showed the settings work (once per run); a wrong
    URI, port or password fails the step at once, without retries."""
    try:
        check_connection(uri, database, run_id)
    except MongoConfigurationError as exc:
        raise dg.Failure(description=f"MongoDB configuration error: {exc}",
                         allow_retries=False) from None
    return get_database(uri, database)


class _MongoDatabase(dg.ConfigurableResource):
    """A database on the process-wide pymongo client for `uri`; never shows the URI."""

    uri: str = Field(description="MongoDB URI; pass dg.EnvVar('MONGODB_URI').")
    database: str = Field(default="hubspot", description="Database of the stream collections.")
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run_id

    def db(self) -> Database:
        return checked_database(self.uri, self.database, self._run_id)

    def __repr__(self) -> str:  # pydantic's repr would print the URI
        return f"{type(self).__name__}(uri={redact_uri(self.uri)!r}, database={self.database!r})"

    __str__ = __repr__


class MongoResource(_MongoDatabase):
    """The stream database, for code that reads it outside the IO manager
    (consolidation, checks, watermarks)."""

    def stream_collection(self, source_id: str) -> Collection:
        return stream_collection(self.db(), source_id)

    def latest_stream(self, source_id: str, stage: str) -> StoredStream | None:
        """What `stage` wrote for `source_id` in its latest finished run (None if never)."""
        return latest_stream(self.db(), source_id, stage)


class JobHistoryResource(_MongoDatabase):
    """Where run summaries go: the `job_history` collection of the stream database."""

    def record(self, document: dict[str, Any]) -> None:
        """Store one run's summary; re-recording the same run replaces it."""
        job_history_collection(self.db()).replace_one(
            {"_id": document["_id"]}, document, upsert=True)
