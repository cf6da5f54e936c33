"""hubspot_assets: a Dagster code location that copies HubSpot accounts into MongoDB.

``defs`` is loaded on first access so that the plain-Python layers (the HubSpot
client, the sandbox, the MongoDB stand-in) import without Dagster.
"""


def __getattr__(name: str):
    if name == "defs":
        from hubspot_assets.definitions import defs

        return defs
    raise AttributeError(f"module 'hubspot_assets' has no attribute {name!r}")
