"""Every Dagster object of the code location: ``from hubspot_assets.defs import defs``."""

from hubspot_assets.defs.definitions import defs

__all__ = ["defs"]
