"""Asset checks: every stage reports the API errors it survived."""


import dagster as dg

from hubspot_assets.defs.partitions import source_partitions


def api_errors_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    """A warning check that passes when the stage's latest run for the source had no API errors."""

    @dg.asset_check(
        asset=asset,
        name="no_api_errors",
        partitions_def=source_partitions,
        description="Warns when the latest materialization of this source recorded API errors "
        "(details in its error_details metadata and in job_history).",
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        result = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset.key, asset_partitions=[context.partition_key]),
            limit=1,
        )
        if not result.records:
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.WARN,
                description="not materialized yet for this source",
            )
        metadata = result.records[0].asset_materialization.metadata
        errors = int(metadata["errors"].value) if "errors" in metadata else 0
        return dg.AssetCheckResult(
            passed=errors == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"errors": errors},
        )

    return _check
