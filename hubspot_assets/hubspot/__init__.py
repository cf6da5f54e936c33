"""Rate-limited HubSpot client: plain Python, no Dagster, no MongoDB.

    from hubspot_assets.hubspot import HubSpotClient, ClientConfig, RateBudget
"""

from .client import HubSpotClient
from .config import ClientConfig, RateBudget
from .errors import HubSpotError
from .stats import ClientStats

__all__ = ["HubSpotClient", "ClientConfig", "RateBudget", "HubSpotError", "ClientStats"]
