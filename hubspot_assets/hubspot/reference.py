"""Reads of HubSpot's reference data: owners, pipelines, properties by sensitivity.

Functions over a `HubSpotClient` (its limiter, retries and page checks), kept
beside the client rather than in it: each returns a whole listing or raises,
so a stage stores either all of a unit or none of it (a current-state
collection may then treat a unit missing from a run as "not read", never as
"deleted").
"""

from __future__ import annotations

from typing import Any

from .client import _bool, _seg  # one quoting rule for every path segment
from .paging import check_page, iter_pages, results_of

OWNERS_PATH = "/crm/v3/owners/"
PIPELINES_ENDPOINT = "/crm/v3/pipelines/{objectType}"
PROPERTIES_ENDPOINT = "/crm/v3/properties/{objectType}"
#: HubSpot's owners listing takes up to 500 per page (its reference: `limit`, max 500).
OWNERS_PAGE_SIZE = 500
#: `dataSensitivity` values of the properties API (HubSpot's Sensitive Data guide):
#: a plain listing leaves out every property that is not `non_sensitive`.
SENSITIVITIES = ("sensitive", "highly_sensitive")


def list_owners(client: Any, archived: bool = False) -> list[dict]:
    """Every owner (`GET /crm/v3/owners/`), live or (``archived``) deactivated, all pages."""
    def fetch(after: str | None) -> dict:
        params: dict[str, Any] = {"limit": OWNERS_PAGE_SIZE, "archived": _bool(archived)}
        if after:
            params["after"] = after
        return client._get(OWNERS_PATH, OWNERS_PATH, params=params, check=check_page)

    what = f"GET {OWNERS_PATH}" + (" (archived)" if archived else "")
    return [owner for page in iter_pages(fetch, what, limits=client.limits)
            for owner in results_of(page, what, key="id")]


def list_pipelines(client: Any, object_type: str) -> list[dict]:
    """Every pipeline of a type with its stages (`GET /crm/v3/pipelines/{objectType}`)."""
    page = client._get(f"/crm/v3/pipelines/{_seg(object_type)}", PIPELINES_ENDPOINT,
                       check=_check_results)
    return results_of(page, f"GET {PIPELINES_ENDPOINT}", key="id")


def list_properties(client: Any, object_type: str, data_sensitivity: str) -> list[dict]:
    """Property definitions of one sensitivity (`?dataSensitivity=`)."""
    page = client._get(f"/crm/v3/properties/{_seg(object_type)}", PROPERTIES_ENDPOINT,
                       params={"dataSensitivity": data_sensitivity}, check=_check_results)
    return results_of(page, f"GET {PROPERTIES_ENDPOINT}")


def _check_results(page: Any) -> None:
    check_page(page, "unpaged listing", None)


def probe_property_values(client: Any, object_type: str, names: list[str]) -> None:
    """Read one record naming ``names``: raises `Forbidden` when the token may not read
    their values (sensitive properties need their own scopes), else returns."""
    client._get(f"/crm/v3/objects/{_seg(object_type)}", "/crm/v3/objects/{objectType}",
                params={"limit": 1, "properties": ",".join(names)}, check=check_page)


#: HubSpot's batch read takes 50 ids when history is asked for (100 without).
HISTORY_BATCH_SIZE = 50


def batch_read_history(client: Any, object_type: str, ids: list[str],
                       names: list[str]) -> list[dict]:
    """`propertiesWithHistory` of up to 50 live records (`POST .../batch/read`): each
    result's `id`, `updatedAt` and every change of the named properties, newest first."""
    if len(ids) > HISTORY_BATCH_SIZE:
        raise ValueError(f"at most {HISTORY_BATCH_SIZE} ids per history read, not {len(ids)}")
    body = {"inputs": [{"id": i} for i in ids], "properties": ["hs_object_id"],
            "propertiesWithHistory": list(names)}
    page = client._post(f"/crm/v3/objects/{_seg(object_type)}/batch/read",
                        "/crm/v3/objects/{objectType}/batch/read", body, check=check_page)
    return results_of(page, "batch read with history", key="id")
