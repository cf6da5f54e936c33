"""hubspot_assets: a Dagster code location that copies HubSpot accounts into MongoDB."""

from hubspot_assets.definitions import defs as defs
