"""Consolidation: the current state of a source, derived from its stream collection.

`source_{id}_objects` holds the latest version of every object (deleted ones
marked), `source_{id}_relationships` every association edge (removed ones
marked). Plain pymongo, no Dagster: the assets in `defs/assets/consolidation.py`
only call these functions.
"""
