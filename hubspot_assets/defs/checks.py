"""The stage check: did every unit of the stage get fetched?

It lives with its asset (``check_specs=`` on the stage asset, its result
yielded by the asset body once the IO manager stored the records), so a
source's sync is one step per asset, not one more step per check.

- ERROR when a unit failed (an API error past every retry) or a record was
  stored as a stub without its data: data is missing and something must be fixed.
- WARN when a unit was skipped (HubSpot refused it: a missing scope, a tier
  without the feature): the rest is complete; the reason names the scope to add.
- passed otherwise (errors that a later attempt recovered from are only counted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

CHECK_NAME = "units_complete"
DESCRIPTION = ("Fails with ERROR when a unit (object type, event type, association pair) "
               "failed or a record was stored without its data, with WARN when a unit was "
               "skipped (HubSpot's reason and the scope to add are in the result).")


def stage_check_spec(asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The check every stage asset declares."""
    return dg.AssetCheckSpec(CHECK_NAME, asset=asset_key, description=DESCRIPTION)


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def stage_check_result(metadata: Mapping[str, Any]) -> dg.AssetCheckResult:
    """The check's verdict from a stage's materialization metadata (plain or Dagster values)."""
    values = {key: _value(value) for key, value in metadata.items()}
    # A failed part (one object's events, say) leaves its unit incomplete: data missing too.
    failed = int(values.get("units_failed") or 0) + int(values.get("parts_failed") or 0)
    stubbed = int(values.get("records_stubbed") or 0)
    skipped = list(values.get("skipped_units") or [])
    details = [d for d in values.get("error_details") or [] if not d.get("skipped")
               and not d.get("retried")]
    result_metadata: dict[str, Any] = {
        "units": int(values.get("units") or 0), "units_failed": failed,
        "units_skipped": len(skipped), "records_stubbed": stubbed,
        "errors": int(values.get("errors") or 0),
    }
    if failed or stubbed:
        first = details[0] if details else {}
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR,
            description=(f"{failed} unit(s) or part(s) failed, {stubbed} record(s) stored "
                         f"without data; "
                         f"first: {first.get('unit', '?')}: {first.get('message', '?')}"),
            metadata={**result_metadata, "failed_units": dg.MetadataValue.json(details[:50])})
    if skipped:
        names = ", ".join(str(s.get("unit")) for s in skipped[:10])
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(skipped)} unit(s) skipped ({names}): {skipped[0].get('message')}",
            metadata={**result_metadata, "skipped_units": dg.MetadataValue.json(skipped)})
    return dg.AssetCheckResult(passed=True, metadata=result_metadata)
