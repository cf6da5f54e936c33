"""Reads of HubSpot's marketing data outside the CRM object APIs: lists and their members,
forms and their submissions, marketing emails, campaigns and marketing email events
(each endpoint's source is cited where it is defined below).

Lists, as HubSpot documents them today (HubSpot-public-api-spec-collection
`PublicApiSpecs/CRM/Lists/Rollouts/144891/v3/lists.json`, scope `crm.lists.read`,
every tier: `x-hubspot-product-tier-requirements` sales/service/crmHub FREE):

- `POST /crm/v3/lists/search` (ListSearchRequest: `offset`, `count` max 500,
  `additionalProperties`; ListSearchResponse: `lists`, `hasMore`, `offset`,
  `total`). Every list, with `hs_list_size`, `hs_last_record_added_at` and
  `hs_last_record_removed_at` among its default `additionalProperties`.
- `GET /crm/v3/lists/?listIds=..&includeFilters=true` (ListsByIdResponse:
  `lists` of PublicObjectList with `filterBranch`): the filter definitions.
- `GET /crm/v3/lists/{listId}/memberships` (`after`, `limit` max 250;
  ApiCollectionResponseJoinTimeAndRecordId: `results` of `recordId` and
  `membershipTimestamp`, `paging.next.after`): the current members, by recordId.

Each function returns or yields a whole listing (or, given a watermark, all of it
after that) or raises, like `reference.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hubspot_assets.timestamps import iso_z

from .client import _seg
from .errors import MalformedResponse
from .paging import ListingGuard, check_page, iter_pages, next_cursor, results_of

LISTS_SEARCH_PATH = "/crm/v3/lists/search"
LISTS_PATH = "/crm/v3/lists/"
MEMBERSHIPS_ENDPOINT = "/crm/v3/lists/{listId}/memberships"
#: ListSearchRequest `count`: "The max `count` is `500`".
LISTS_PAGE_SIZE = 500
#: The multi-list fetch documents no maximum; 100 ids keep its URL short.
LISTS_BATCH_SIZE = 100
#: Memberships `limit`: "The maximum `limit` is 250".
MEMBERSHIPS_PAGE_SIZE = 250


def search_lists(client: Any) -> list[dict]:
    """Every list of the account (all object types and processing types), all pages."""
    what = f"POST {LISTS_SEARCH_PATH}"
    guard = ListingGuard(what, client.limits)
    found: list[dict] = []
    offset = 0
    while True:
        page = client._post(LISTS_SEARCH_PATH, LISTS_SEARCH_PATH,
                            {"offset": offset, "count": LISTS_PAGE_SIZE,
                             "additionalProperties": []}, check=_check_search_page)
        found.extend(page["lists"])
        more = page["hasMore"]
        guard.page((str(item["listId"]) for item in page["lists"]),
                   str(page["offset"]) if more else None)
        if not more:
            return found
        offset = page["offset"]


def _check_search_page(page: Any) -> None:
    if not isinstance(page, dict) or not isinstance(page.get("lists"), list):
        raise MalformedResponse("lists search: the page has no 'lists' list")
    if not isinstance(page.get("hasMore"), bool) or not isinstance(page.get("offset"), int):
        raise MalformedResponse("lists search: 'hasMore' or 'offset' missing or malformed")
    for item in page["lists"]:
        if not isinstance(item, dict) or item.get("listId") in (None, ""):
            raise MalformedResponse(f"lists search: a list without 'listId': {str(item)[:80]}")


def get_lists(client: Any, list_ids: list[str]) -> list[dict]:
    """The definitions (with `filterBranch`) of up to LISTS_BATCH_SIZE lists; a list
    deleted since it was searched is simply not returned."""
    if len(list_ids) > LISTS_BATCH_SIZE:
        raise ValueError(f"at most {LISTS_BATCH_SIZE} list ids per fetch, not {len(list_ids)}")
    page = client._get(LISTS_PATH, LISTS_PATH,
                       params={"listIds": list(list_ids), "includeFilters": "true"},
                       check=_check_lists)
    return page["lists"]


def _check_lists(page: Any) -> None:
    if not isinstance(page, dict) or not isinstance(page.get("lists"), list):
        raise MalformedResponse("lists fetch: the response has no 'lists' list")


def iter_memberships(client: Any, list_id: str) -> Iterator[dict]:
    """Every current member of one list (`recordId`, `membershipTimestamp`), lazily."""
    path = f"/crm/v3/lists/{_seg(list_id)}/memberships"

    def fetch(after: str | None) -> dict:
        params: dict[str, Any] = {"limit": MEMBERSHIPS_PAGE_SIZE}
        if after:
            params["after"] = after
        return client._get(path, MEMBERSHIPS_ENDPOINT, params=params,
                           check=lambda page: check_page(page, "list memberships", "recordId"))

    what = f"GET {MEMBERSHIPS_ENDPOINT} ({list_id})"
    for page in iter_pages(fetch, what, key="recordId", limits=client.limits):
        yield from results_of(page, what, key="recordId")


# -- forms and their submissions -------------------------------------------------------
# `GET /marketing/v3/forms` (PublicApiSpecs/Marketing/Forms/Rollouts/144909/v3/forms.json,
# scope `forms`, every tier FREE): `after`, `limit`, `archived` ("only results that have
# been archived"), `formTypes` (hubspot, captured, flow, blog_comment, all; we ask for all).
# The spec gives no maximum `limit`; 100 a page.
FORMS_PATH = "/marketing/v3/forms"
FORMS_PAGE_SIZE = 100
# Submissions have only HubSpot's legacy v1 endpoint (developers.hubspot.com/docs/
# api-reference/legacy/forms-v1/submissions): newest first, `limit` at most 50, `after`
# paging; no time filter, so an incremental read stops at the first page that reaches
# past its watermark.
SUBMISSIONS_ENDPOINT = "/form-integrations/v1/submissions/forms/{formGuid}"
SUBMISSIONS_PAGE_SIZE = 50


def _every_page(client: Any, path: str, params: dict[str, Any], what: str) -> list[dict]:
    """Every result (each with an `id`) of a GET listing paged by `after`."""
    def fetch(after: str | None) -> dict:
        return client._get(path, path, params={**params, **({"after": after} if after else {})},
                           check=check_page)

    return [item for page in iter_pages(fetch, what, limits=client.limits)
            for item in results_of(page, what, key="id")]


def list_forms(client: Any, archived: bool = False) -> list[dict]:
    """Every form of every type, live or (``archived``) archived, all pages."""
    return _every_page(client, FORMS_PATH, {
        "limit": FORMS_PAGE_SIZE, "formTypes": "all", "archived": "true" if archived else "false"},
        f"GET {FORMS_PATH}" + (" (archived)" if archived else ""))


def iter_submissions(client: Any, form_id: str, since_ms: int | None = None) -> Iterator[dict]:
    """A form's submissions, newest first: all, or those submitted at or after ``since_ms``
    (paging stops at the first older one: the listing is ordered by `submittedAt`)."""
    path = f"/form-integrations/v1/submissions/forms/{_seg(form_id)}"

    def fetch(after: str | None) -> dict:
        params: dict[str, Any] = {"limit": SUBMISSIONS_PAGE_SIZE}
        if after:
            params["after"] = after
        return client._get(path, SUBMISSIONS_ENDPOINT, params=params,
                           check=lambda page: check_page(page, "form submissions", None))

    what = f"GET {SUBMISSIONS_ENDPOINT} ({form_id})"
    # Submissions carry no id HubSpot documents: the guard tells pages apart by
    # `submittedAt`, which moves on from page to page of a newest-first listing.
    guard = ListingGuard(what, client.limits)
    after: str | None = None
    while True:
        page = fetch(after)
        after = next_cursor(page, what)
        found = results_of(page, what)
        for submission in found:
            if not isinstance(submission, dict) or not isinstance(
                    submission.get("submittedAt"), int):
                raise MalformedResponse(f"{what}: a submission without an integer "
                                        f"'submittedAt': {str(submission)[:80]}")
        guard.page((str(s["submittedAt"]) for s in found), after)
        for submission in found:
            if since_ms is not None and submission["submittedAt"] < since_ms:
                return
            yield submission
        if after is None:
            return


# -- marketing emails ----------------------------------------------------------------------
# `GET /marketing/v3/emails` (PublicApiSpecs/Marketing/Marketing Emails/Rollouts/145892/v3/
# marketingEmails.json, scope `content`): `after`, `limit` ("Default is 100"),
# `updatedAfter` ("Only return emails last updated after the specified time"),
# `archived` ("whether to return archived emails"); CollectionResponseWithTotalPublicEmail.
EMAILS_PATH = "/marketing/v3/emails"
EMAILS_PAGE_SIZE = 100


def list_emails(client: Any, updated_after_ms: int | None = None,
                archived: bool = False) -> list[dict]:
    """Every marketing email (or those updated after ``updated_after_ms``), live or
    (``archived``) archived, all pages."""
    params: dict[str, Any] = {"limit": EMAILS_PAGE_SIZE,
                              "archived": "true" if archived else "false"}
    if updated_after_ms is not None:
        params["updatedAfter"] = iso_z(updated_after_ms)
    return _every_page(client, EMAILS_PATH, params,
                       f"GET {EMAILS_PATH}" + (" (archived)" if archived else ""))


# -- campaigns -------------------------------------------------------------------------------
# `GET /marketing/v3/campaigns/` (PublicApiSpecs/Marketing/Campaigns Public Api/Rollouts/
# 177944/v3/campaignsPublicApi.json, scope `marketing.campaigns.read`, Marketing Hub
# PROFESSIONAL): `after`, `limit`, `properties` (without it "the response will include an
# empty properties map"); CollectionResponseWithTotalPublicCampaignForwardPaging of
# PublicCampaign (`id`, `properties`, `createdAt`, `updatedAt`, `businessUnits`).
CAMPAIGNS_PATH = "/marketing/v3/campaigns/"
CAMPAIGNS_PAGE_SIZE = 100
#: The campaign properties HubSpot's campaigns guide lists.
CAMPAIGN_PROPERTIES = ("hs_name", "hs_start_date", "hs_end_date", "hs_notes", "hs_audience",
                       "hs_currency_code", "hs_campaign_status", "hs_owner", "hs_utm",
                       "hs_color_hex", "hs_budget_items_sum_amount",
                       "hs_spend_items_sum_amount")


def list_campaigns(client: Any) -> list[dict]:
    """Every campaign with its properties, all pages."""
    return _every_page(client, CAMPAIGNS_PATH, {"limit": CAMPAIGNS_PAGE_SIZE,
                                                "properties": list(CAMPAIGN_PROPERTIES)},
                       f"GET {CAMPAIGNS_PATH}")


# -- marketing email events --------------------------------------------------------------
# Only a legacy endpoint exists: `GET /email/public/v1/events` (HubSpot's "Email Events API"
# under legacy APIs; no current version in HubSpot-public-api-spec-collection). Parameters
# `startTimestamp`/`endTimestamp` (epoch ms), `limit` (at most 1000), `offset`; the answer
# is `{"events": [...], "hasMore": bool, "offset": str}`. Scope `content`.
EMAIL_EVENTS_PATH = "/email/public/v1/events"
EMAIL_EVENTS_PAGE_SIZE = 1000


def iter_email_events(client: Any, start_ms: int | None = None,
                      end_ms: int | None = None) -> Iterator[dict]:
    """Every email event created in [start_ms, end_ms] (all when None), lazily."""
    what = f"GET {EMAIL_EVENTS_PATH}"
    guard = ListingGuard(what, client.limits)
    offset: str | None = None
    while True:
        params: dict[str, Any] = {"limit": EMAIL_EVENTS_PAGE_SIZE}
        if start_ms is not None:
            params["startTimestamp"] = int(start_ms)
        if end_ms is not None:
            params["endTimestamp"] = int(end_ms)
        if offset:
            params["offset"] = offset
        page = client._get(EMAIL_EVENTS_PATH, EMAIL_EVENTS_PATH, params=params,
                           check=_check_email_events)
        more = page["hasMore"]
        offset = str(page["offset"]) if more else None
        guard.page((str(e["id"]) for e in page["events"]), offset)
        yield from page["events"]
        if not more:
            return


def _check_email_events(page: Any) -> None:
    if not isinstance(page, dict) or not isinstance(page.get("events"), list):
        raise MalformedResponse("email events: the page has no 'events' list")
    if not isinstance(page.get("hasMore"), bool):
        raise MalformedResponse("email events: 'hasMore' missing or not a boolean")
    if page["hasMore"] and not page.get("offset"):
        raise MalformedResponse("email events: 'hasMore' without an 'offset'")
    for event in page["events"]:
        if not isinstance(event, dict) or event.get("id") in (None, "") \
                or not isinstance(event.get("created"), int):
            raise MalformedResponse(f"email events: an event without 'id' or an integer "
                                    f"'created': {str(event)[:80]}")
