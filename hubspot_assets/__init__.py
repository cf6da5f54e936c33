"""hubspot_assets: a Dagster code location that copies HubSpot accounts into MongoDB.

The Dagster objects live in :mod:`hubspot_assets.defs` (``workspace.yaml``
loads ``hubspot_assets.defs:defs``); every other subpackage is plain Python.
"""
