"""Dagster resources: the rate-limited HubSpot client for a source."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import dagster as dg
from pydantic import Field

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.hubspot.config import DEFAULT_BASE_URL, ClientConfig
from hubspot_assets.registry import Registry, Source, load_registry


class HubSpotResource(dg.ConfigurableResource):
    """Hands out a HubSpot client per source id, every call through the source's shared limiter.

    Tokens never pass through Dagster config: each source names the
    environment variable that holds its token.
    """

    sources_file: str = Field(description="Path of the source registry YAML (HUBSPOT_SOURCES_FILE).")
    limiter_backend: Optional[str] = Field(
        default=None,
        description="'sqlite' (processes on one host share a file-locked bucket) or 'redis' "
        "(several hosts); default: redis when redis_url is set, else sqlite.",
    )
    limiter_dir: Optional[str] = Field(default=None, description="Directory of the SQLite buckets.")
    redis_url: Optional[str] = Field(default=None, description="Redis URL of the shared buckets.")
    max_in_flight: int = Field(default=8, description="Concurrent requests per client.")
    safety_margin: float = Field(
        default=0.0, description="Fraction of every HubSpot limit left unused for other apps."
    )
    read_timeout: Optional[float] = Field(
        default=None, description="Seconds to wait for a response before retrying (client default).")
    max_attempts: Optional[int] = Field(
        default=None, description="Attempts per request before its error is reported (client default).")
    backoff_max: Optional[float] = Field(
        default=None, description="Longest pause between attempts, seconds (client default).")
    two_ended_after_pages: Optional[int] = Field(
        default=None,
        description="List pages after which a long listing is also read from its highest id "
        "through CRM search (client default 5; 0 turns it off).")

    def registry(self) -> Registry:
        """The registry file, read now (it may change while the code location runs)."""
        return load_registry(self.sources_file)

    def source(self, source_id: str) -> Source:
        """The registry entry of a source, or an error naming the known ids."""
        return self.registry().get(source_id)

    def open_client(self, source: Source) -> HubSpotClient:
        """A new client for ``source``; the caller closes it."""
        config = ClientConfig(
            token=source.token(),
            base_url=source.base_url or DEFAULT_BASE_URL,
            budget=replace(source.budget, safety_margin=self.safety_margin),
            limiter_backend=self.limiter_backend or None,
            limiter_dir=self.limiter_dir or None,
            redis_url=self.redis_url or None,
            max_in_flight=self.max_in_flight,
            token_source=f"${source.token_env}",
            source_label=source.id,
            **{knob: value for knob in ("read_timeout", "max_attempts", "backoff_max",
                                        "two_ended_after_pages")
               if (value := getattr(self, knob)) is not None},
        )
        return HubSpotClient(config, limiter_key=source.id)
