"""The stage assets (HubSpot -> stream) and the consolidation assets (stream -> current state)."""

from hubspot_assets.defs.assets.consolidation import (
                                                 CONSOLIDATION_ASSETS,
                                                 consolidated_objects,
                                                 consolidated_relationships,
)
from hubspot_assets.defs.assets.discovery import (
                                                 custom_object_schemas,
                                                 event_types,
                                                 object_download_list,
)
from hubspot_assets.defs.assets.events import events
from hubspot_assets.defs.assets.property_history import property_history
from hubspot_assets.defs.assets.records import object_records
from hubspot_assets.defs.assets.relationships import relationships

STAGE_ASSETS = [
    custom_object_schemas,
    object_download_list,
    object_records,
    event_types,
    events,
    relationships,
    property_history,
]

ALL_ASSETS = [*STAGE_ASSETS, *CONSOLIDATION_ASSETS]

__all__ = ["ALL_ASSETS", "CONSOLIDATION_ASSETS", "STAGE_ASSETS", "consolidated_objects",
           "consolidated_relationships"]
