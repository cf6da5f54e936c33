"""HubSpot's standard CRM object types and the association pairs worth fetching.

Static facts from HubSpot's documentation; custom object types come from
`GET /crm/v3/schemas` at run time and are not listed here.

Every name below is the one HubSpot's object URLs take
(`/crm/v3/objects/{name}`), checked against its published OpenAPI files
(repository HubSpot/HubSpot-public-api-spec-collection, `PublicApiSpecs/CRM/<Object>/
Rollouts/424/v3/<object>.json`): e.g. `Goal Targets/.../goalTargets.json` serves
`/crm/v3/objects/goal_targets` (not `goals`), `Commerce Payments/.../commercePayments.json`
serves `/crm/v3/objects/commerce_payments` (not `payments`), `Commerce Subscriptions/
.../commerceSubscriptions.json` serves `/crm/v3/objects/subscriptions`, and
`Postal Mail`, `Feedback Submissions`, `Users`, `Leads`, `Carts` serve `postal_mail`,
`feedback_submissions`, `users`, `leads`, `carts`. The objectTypeIds are those of
HubSpot's "Using the object APIs" guide (developers.hubspot.com/docs/guides/crm/
using-object-apis: Goals 0-74, Payments 0-101, Subscriptions 0-69, ...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectType:
    name: str
    object_type_id: str
    # The property search filters and sorts on for "modified since".
    modified_property: str = "hs_lastmodifieddate"
    # Whether `GET /crm/v3/pipelines/{objectType}` has pipelines for the type
    # (HubSpot's pipelines guide: deals, tickets, and the newer pipeline objects).
    has_pipelines: bool = False
    # Whether the type can hold Sensitive Data properties: HubSpot has sensitive scopes
    # only for contacts, companies, deals, tickets and custom objects (the scope lists of
    # its OpenAPI files: crm.objects.{contacts,companies,deals,custom}.sensitive.read,
    # tickets.sensitive), so other types are not asked (two calls a type saved per run).
    sensitive_data: bool = False


STANDARD_OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType("contacts", "0-1", "lastmodifieddate", sensitive_data=True),
    ObjectType("companies", "0-2", sensitive_data=True),
    ObjectType("deals", "0-3", has_pipelines=True, sensitive_data=True),
    ObjectType("tickets", "0-5", has_pipelines=True, sensitive_data=True),
    ObjectType("products", "0-7"),
    ObjectType("line_items", "0-8"),
    ObjectType("quotes", "0-14"),
    ObjectType("calls", "0-48"),
    ObjectType("emails", "0-49"),
    ObjectType("meetings", "0-47"),
    ObjectType("notes", "0-46"),
    ObjectType("tasks", "0-27"),
    ObjectType("communications", "0-18"),
    ObjectType("postal_mail", "0-116"),
    ObjectType("feedback_submissions", "0-19"),
    ObjectType("goal_targets", "0-74"),
    ObjectType("leads", "0-136", has_pipelines=True),
    ObjectType("invoices", "0-53"),
    ObjectType("orders", "0-123", has_pipelines=True),
    ObjectType("carts", "0-142"),
    ObjectType("commerce_payments", "0-101"),
    ObjectType("subscriptions", "0-69"),
    ObjectType("users", "0-115"),
)

BY_NAME: dict[str, ObjectType] = {t.name: t for t in STANDARD_OBJECT_TYPES}
BY_ID: dict[str, ObjectType] = {t.object_type_id: t for t in STANDARD_OBJECT_TYPES}

ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes", "tasks", "communications",
                    "postal_mail")

# One direction per pair is enough: HubSpot associations are bidirectional, so
# fetching contacts->companies also yields every companies->contacts edge.
STANDARD_ASSOCIATION_PAIRS: tuple[tuple[str, str], ...] = (
    ("contacts", "companies"),
    ("deals", "contacts"),
    ("deals", "companies"),
    ("tickets", "contacts"),
    ("tickets", "companies"),
    ("tickets", "deals"),
    ("line_items", "deals"),
    ("quotes", "deals"),
    ("quotes", "line_items"),
    ("quotes", "contacts"),
    ("quotes", "companies"),
    ("products", "line_items"),
    ("invoices", "contacts"),
    ("invoices", "companies"),
    ("invoices", "deals"),
    ("leads", "contacts"),
    ("leads", "companies"),
    ("feedback_submissions", "contacts"),
    *((engagement, parent) for engagement in ENGAGEMENT_TYPES
      for parent in ("contacts", "companies", "deals", "tickets")),
)


def object_type_id(name_or_id: str) -> str | None:
    """objectTypeId of a standard type given its name or id; None for custom/unknown."""
    if name_or_id in BY_ID:
        return name_or_id
    entry = BY_NAME.get(name_or_id)
    return entry.object_type_id if entry else None


def modified_property(name_or_id: str) -> str:
    """Last-modified property used for search windows (contacts differ)."""
    entry = BY_NAME.get(name_or_id) or BY_ID.get(name_or_id)
    return entry.modified_property if entry else "hs_lastmodifieddate"


def may_hold_sensitive_data(name_or_id: str, custom: bool) -> bool:
    """Whether a type can have Sensitive Data properties (custom types can)."""
    entry = BY_NAME.get(name_or_id) or BY_ID.get(name_or_id)
    return custom or (entry is not None and entry.sensitive_data)


def association_pairs_for(available: set[str] | frozenset[str]) -> list[tuple[str, str]]:
    """Standard pairs whose two types are both in `available` (e.g. types that did not 403)."""
    return [(a, b) for a, b in STANDARD_ASSOCIATION_PAIRS if a in available and b in available]


# The object types an event can be on: a custom event definition's primaryObject
# is "one of CONTACT, COMPANY, DEAL, TICKET ... default ... CONTACT"
# (HubSpot-public-api-spec-collection, PublicApiSpecs/Events/Manage Event
# Definitions/Rollouts/138888/v3/manageEventDefinitions.json), each named in an
# events query as the reference's example `objectType=contact` names contacts.
EVENT_OBJECT_TYPES: dict[str, str] = {"contacts": "contact", "companies": "company",
                                      "deals": "deal", "tickets": "ticket"}


def event_object_type(label: str | None) -> str | None:
    """The object type of an event's ``objectType`` ("contact", "CONTACT", "0-1",
    "contacts"), or None for one we cannot name (a custom object's)."""
    if not label:
        return None
    text = str(label).strip().lower()
    for name, singular in EVENT_OBJECT_TYPES.items():
        if text in (name, singular, BY_NAME[name].object_type_id):
            return name
    return None
