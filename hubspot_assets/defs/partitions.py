"""The partitions of every stage: one per source id in the registry."""

import dagster as dg

source_partitions = dg.DynamicPartitionsDefinition(name="hubspot_sources")
