"""The fewest API calls a full sync of a sandbox account can take, per stage and endpoint.

Computed from the sandbox's ground truth and the client's page sizes, for the
client's design: one list page per 100 records when every property name fits
in one URL, else list pages plus batch reads of each page (live records) or one
listing per property chunk (archived records); association batches of 1,000 ids
for every pair the pipeline must ask about (an empty pair cannot be known
without asking), plus one call per extra page of an object with more
associations than a page holds; one events page per 100 events; and the reference
data: owners, pipelines, property definitions per sensitivity, label definitions of both
directions of every pair.

And, on a full read, each type's live ids listed on their own for reconciliation
(list pages of 100 ids with `properties=hs_object_id`): what detects records
merged away or deleted for good.

This is the list-based plan's minimum. A two-ended read (`hubspot.two_ended`)
takes part of a large type through search pages of 200 ids, so object_records
can come in under it.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from urllib.parse import quote

from hubspot_assets.extract.discovery import candidate_types
from hubspot_assets.extract.reference import pipeline_types
from hubspot_assets.hubspot.reference import OWNERS_PAGE_SIZE, SENSITIVITIES
from hubspot_assets.extract.relationships import association_pairs
from hubspot_assets.hubspot.catalog import may_hold_sensitive_data
from hubspot_assets.hubspot.config import ClientConfig, RateBudget
from hubspot_assets.hubspot.paging import chunk_properties
from hubspot_assets.registry import Source
from hubspot_assets_tests.sandbox import reference_data as ref
from hubspot_assets_tests.sandbox import truth

LIST = "GET /crm/v3/objects/{objectType}"
BATCH_READ = "POST /crm/v3/objects/{objectType}/batch/read"
PROPERTIES = "GET /crm/v3/properties/{objectType}"
SCHEMAS = "GET /crm/v3/schemas"
EVENT_TYPES = "GET /events/v3/events/event-types"
EVENTS = "GET /events/v3/events"
ASSOCIATIONS = "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"
LABELS = "GET /crm/v4/associations/{fromObjectType}/{toObjectType}/labels"
OWNERS = "GET /crm/v3/owners/"
PIPELINES = "GET /crm/v3/pipelines/{objectType}"


# A source without include/exclude filters: every type is a candidate.
_EVERYTHING = Source(id="minimum", token_env="UNUSED", budget=RateBudget())


def _pages(n: int, size: int) -> int:
    """Calls to list n items: an empty listing still costs one call."""
    return max(1, math.ceil(n / size))


def _chunks(config: ClientConfig, base_url: str, object_type: str, names: list[str],
            archived: bool) -> int:
    probe = (f"{base_url}/crm/v3/objects/{quote(object_type, safe='')}?limit={config.page_size}"
             f"&archived={'true' if archived else 'false'}&after=")
    return len(chunk_properties(names, probe, config.max_url_length))


def _extra_association_pages(account, from_type: str, to_type: str, page_size: int) -> int:
    """Follow-up calls for objects whose associations span several pages."""
    per_id = (sum(1 for _ in group) for _, group in
              itertools.groupby(truth.iter_associations(account, from_type, to_type),
                                key=lambda pair: pair[0]))
    return sum(math.ceil(n / page_size) - 1 for n in per_id)


def minimum_calls(account, base_url: str, association_page_size: int,
                  config: ClientConfig | None = None) -> dict[str, dict[str, int]]:
    """`{stage: {endpoint: calls}}` for a full sync of `account` (a sandbox `Account`)."""
    config = config or ClientConfig(token="minimum")
    summary = truth.summary(account, checksums=False, associations=False)
    objects = summary["objects"]
    candidates = candidate_types(_EVERYTHING, truth.schemas(account))
    ready = [dict(c, status="ready") for c in candidates
             if not objects.get(c["objectType"], {"denied": True})["denied"]]

    records: Counter[str] = Counter()
    for entry in ready:
        name = entry["objectType"]
        names = sorted(truth.property_names(account, name))
        live, archived = objects[name]["live"], objects[name]["archived"]
        records[LIST] += _pages(live, config.page_size)
        if _chunks(config, base_url, name, names, False) > 1 and live:
            records[BATCH_READ] += math.ceil(live / config.batch_read_size)
        records[LIST] += (_pages(archived, config.page_size)
                          * _chunks(config, base_url, name, names, True))
        # Reconciliation on a full read: the live ids listed on their own, 100 a page
        # (`extract/records.py`: ids read through search are no proof of absence).
        records[LIST] += _pages(live, config.page_size)

    # Reference data: owners (live and archived listings), each pipeline type once;
    # property definitions per sensitivity, and one probe read per sensitivity a type has.
    owners = [o for o in ref.owners(account)]
    records[OWNERS] = (_pages(sum(not o.archived for o in owners), OWNERS_PAGE_SIZE)
                       + _pages(sum(o.archived for o in owners), OWNERS_PAGE_SIZE))
    records[PIPELINES] = len(pipeline_types(ready))
    probes = sum(1 for entry in ready for level in SENSITIVITIES
                 if any(p.data_sensitivity == level
                        for p in account.resolve(entry["objectType"]).properties))

    relationships = 0
    pairs = association_pairs(ready)
    for from_type, to_type in pairs:
        relationships += math.ceil(objects[from_type]["live"] / config.association_batch_size)
        relationships += _extra_association_pages(account, from_type, to_type,
                                                  association_page_size)

    events = sum(_pages(n, config.events_page_size) for n in summary["events"].values())
    return {
        "custom_object_schemas": {SCHEMAS: 1},
        "object_download_list": {PROPERTIES: len(candidates) + len(SENSITIVITIES) * sum(
            may_hold_sensitive_data(e["objectType"], bool(e.get("custom"))) for e in ready),
                                 **({LIST: probes} if probes else {})},
        "object_records": dict(records),
        "event_types": {EVENT_TYPES: 1},
        "events": {EVENTS: events},
        "relationships": {ASSOCIATIONS: relationships, LABELS: 2 * len(pairs)},
    }
