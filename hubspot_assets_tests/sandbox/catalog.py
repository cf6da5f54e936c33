"""HubSpot's object-type catalogue and the sandbox's property definitions.

Everything here is static (independent of seed and sizes) so it is built once
per process; the standard type names and ids are HubSpot's own and may be
imported by other layers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# HubSpot's standard CRM object types: name -> objectTypeId (the names its object URLs
# take, as in hubspot_assets.hubspot.catalog, which cites the OpenAPI files).
STANDARD_OBJECT_TYPES: dict[str, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tickets": "0-5",
    "products": "0-7",
    "line_items": "0-8",
    "quotes": "0-14",
    "calls": "0-48",
    "emails": "0-49",
    "meetings": "0-47",
    "notes": "0-46",
    "tasks": "0-27",
    "communications": "0-18",
    "postal_mail": "0-116",
    "feedback_submissions": "0-19",
    "goal_targets": "0-74",
    "leads": "0-136",
    "invoices": "0-53",
    "orders": "0-123",
    "carts": "0-142",
    "commerce_payments": "0-101",
    "subscriptions": "0-69",
    "users": "0-115",
}

# Properties returned when a list/search/batch request names none.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage",
              "hs_lastmodifieddate", "hs_object_id", "pipeline"),
    "tickets": ("content", "createdate", "hs_lastmodifieddate", "hs_object_id",
                "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category",
                "hs_ticket_priority", "subject"),
    "products": ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
    "line_items": ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id",
                   "hs_product_id", "name", "price", "quantity"),
}
GENERIC_DEFAULT_PROPERTIES = ("createdate", "hs_lastmodifieddate", "hs_object_id")

# Number of properties per standard type; the rest get SMALL_TYPE_PROPERTY_COUNT.
# Contacts carry enough (with long names) that the full list never fits in one URL.
PROPERTY_COUNTS = {"contacts": 420, "companies": 220, "deals": 160, "tickets": 120,
                   "products": 60, "line_items": 60}
SMALL_TYPE_PROPERTY_COUNT = 40
CUSTOM_PROPERTY_COUNT = 24

# Well-known properties per type, with HubSpot's (type, fieldType).
# Types HubSpot can merge (POST /crm/v3/objects/{contacts,companies,deals,tickets}/merge,
# developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-merge).
MERGEABLE_TYPES = ("contacts", "companies", "deals", "tickets")
MERGED_IDS_PROPERTY = "hs_merged_object_ids"

_CORE: dict[str, tuple[tuple[str, str, str], ...]] = {
    "contacts": (
        ("email", "string", "text"), ("firstname", "string", "text"),
        ("lastname", "string", "text"), ("phone", "string", "phonenumber"),
        ("company", "string", "text"), ("website", "string", "text"),
        ("jobtitle", "string", "text"), ("city", "string", "text"),
        ("state", "string", "text"), ("country", "string", "text"),
        ("zip", "string", "text"), ("lifecyclestage", "enumeration", "radio"),
        ("hs_lead_status", "enumeration", "radio"), ("lastmodifieddate", "datetime", "date"),
    ),
    "companies": (
        ("name", "string", "text"), ("domain", "string", "text"),
        ("industry", "enumeration", "select"), ("numberofemployees", "number", "number"),
        ("annualrevenue", "number", "number"), ("city", "string", "text"),
        ("country", "string", "text"), ("phone", "string", "phonenumber"),
        ("lifecyclestage", "enumeration", "radio"),
    ),
    "deals": (
        ("dealname", "string", "text"), ("amount", "number", "number"),
        ("dealstage", "enumeration", "radio"), ("pipeline", "enumeration", "select"),
        ("closedate", "datetime", "date"), ("dealtype", "enumeration", "radio"),
    ),
    "tickets": (
        ("subject", "string", "text"), ("content", "string", "textarea"),
        ("hs_pipeline", "enumeration", "select"), ("hs_pipeline_stage", "enumeration", "radio"),
        ("hs_ticket_priority", "enumeration", "select"),
        ("hs_ticket_category", "enumeration", "checkbox"),
    ),
    "products": (("name", "string", "text"), ("price", "number", "number"),
                 ("description", "string", "textarea")),
    "line_items": (("name", "string", "text"), ("price", "number", "number"),
                   ("quantity", "number", "number"), ("amount", "number", "number"),
                   ("hs_product_id", "string", "text")),
}

# Words for generated property names: long-ish, like HubSpot's analytics fields.
_GROUPS = ("analytics", "email", "social", "sales", "marketing", "conversion",
           "engagement", "integration", "enrichment", "sequence")
_WORDS = ("first_touch_converting_campaign", "last_touch_converting_campaign",
          "average_page_views_per_session", "latest_source_timestamp",
          "original_source_drill_down", "number_of_sales_activities",
          "time_to_first_engagement", "recent_conversion_event_name",
          "last_engagement_timestamp", "predictive_scoring_tier",
          "marketing_emails_clicked", "lead_response_time_minutes",
          "associated_campaign_identifier", "currently_in_workflow",
          "calculated_revenue_bucket")
_VALUE_TYPES = (("string", "text"), ("number", "number"), ("enumeration", "select"),
                ("datetime", "date"), ("bool", "booleancheckbox"), ("date", "date"),
                ("string", "textarea"), ("enumeration", "radio"))


@dataclass(frozen=True)
class PropertyDef:
    """One property definition of an object type."""

    name: str
    type: str  # string | number | enumeration | datetime | date | bool
    field_type: str
    group_name: str
    options: tuple[str, ...] = ()
    hubspot_defined: bool = True
    # HubSpot's dataSensitivity: non_sensitive | sensitive | highly_sensitive. Only
    # non_sensitive properties are listed unless asked for (Sensitive Data guide).
    data_sensitivity: str = "non_sensitive"

    def to_json(self, created_at: str) -> dict:
        """HubSpot's property-definition shape (`GET /crm/v3/properties/...`)."""
        label = self.name.replace("_", " ").strip().capitalize()
        return {
            "updatedAt": created_at,
            "createdAt": created_at,
            "name": self.name,
            "label": label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": f"{label} (sandbox property)",
            "groupName": self.group_name,
            "options": [
                {"label": o.replace("_", " ").title(), "value": o, "displayOrder": i, "hidden": False}
                for i, o in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.name == "hs_object_id",
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.name in _READ_ONLY},
            "formField": self.type != "datetime",
            "archived": False,
            "dataSensitivity": self.data_sensitivity,
        }


# Sensitive Data properties an Enterprise account might hold (HubSpot's examples: a
# passport number, a social security number), listed only with dataSensitivity.
_SENSITIVE: dict[str, tuple[tuple[str, str], ...]] = {
    "contacts": (("passport_number", "sensitive"), ("national_id_number", "highly_sensitive")),
    "companies": (("tax_registration_number", "sensitive"),),
}
SENSITIVITY_LEVELS = ("non_sensitive", "sensitive", "highly_sensitive")


def sensitive_scope(type_name: str, custom: bool, sensitivity: str) -> str:
    """The scope that reads values of a type's sensitive properties (Sensitive Data guide:
    crm.objects.<type>.sensitive.read, .highly_sensitive.read)."""
    base = "custom" if custom else type_name
    return f"crm.objects.{base}.{sensitivity}.read"


_READ_ONLY = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})
_OPTIONS = {
    "lifecyclestage": ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                       "opportunity", "customer", "evangelist", "other"),
    "hs_lead_status": ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "CONNECTED"),
    "industry": ("COMPUTER_SOFTWARE", "RETAIL", "BANKING", "HOSPITALITY", "BIOTECHNOLOGY"),
    "dealstage": ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                  "closedwon", "closedlost"),
    "pipeline": ("default",),
    "dealtype": ("newbusiness", "existingbusiness"),
    "hs_pipeline": ("0",),
    "hs_pipeline_stage": ("1", "2", "3", "4"),
    "hs_ticket_priority": ("LOW", "MEDIUM", "HIGH"),
    "hs_ticket_category": ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST"),
}


def _generic_options(i: int) -> tuple[str, ...]:
    return tuple(f"option_{chr(97 + k)}" for k in range(2 + i % 4))


def _build_properties(type_name: str, count: int, custom: bool) -> tuple[PropertyDef, ...]:
    """Core properties, the always-present system ones, then generated filler."""
    group = "contactinformation" if type_name == "contacts" else f"{type_name.rstrip('s')}information"
    props: list[PropertyDef] = [
        PropertyDef("hs_object_id", "number", "number", group),
        PropertyDef("hs_createdate" if custom else "createdate", "datetime", "date", group),
        PropertyDef("hs_lastmodifieddate", "datetime", "date", group),
    ]
    if type_name in MERGEABLE_TYPES:
        # Semicolon-separated ids merged into this record (HubSpot's multi-value encoding);
        # set on the survivor by POST /crm/v3/objects/{objectType}/merge.
        props.append(PropertyDef(MERGED_IDS_PROPERTY, "enumeration", "checkbox", group))
    for name, typ, field_type in _CORE.get(type_name, ()):
        options = _OPTIONS.get(name, ()) if typ == "enumeration" else ()
        props.append(PropertyDef(name, typ, field_type, group, options))
    for name, sensitivity in _SENSITIVE.get(type_name, ()) if not custom else ():
        props.append(PropertyDef(name, "string", "text", group, hubspot_defined=False,
                                 data_sensitivity=sensitivity))
    if custom:
        for name in ("name", "status", "external_reference"):
            props.append(PropertyDef(name, "string", "text", group, hubspot_defined=False))
    seen = {p.name for p in props}
    i = 0
    while len(props) < count:
        g = _GROUPS[i % len(_GROUPS)]
        w = _WORDS[(i // len(_GROUPS)) % len(_WORDS)]
        rnd = i // (len(_GROUPS) * len(_WORDS))
        name = f"hs_{g}_{w}" if rnd == 0 else f"hs_{g}_{w}_{rnd + 1}"
        if custom:
            name = f"custom_{g}_{i}"
        typ, field_type = _VALUE_TYPES[i % len(_VALUE_TYPES)]
        options = _generic_options(i) if typ == "enumeration" else ()
        if typ == "bool":
            options = ("true", "false")
        if name not in seen:
            seen.add(name)
            props.append(PropertyDef(name, typ, field_type, f"{g}_information", options,
                                     hubspot_defined=not custom))
        i += 1
    return tuple(props)


@functools.lru_cache(maxsize=None)
def standard_properties(type_name: str) -> tuple[PropertyDef, ...]:
    """Property definitions of a standard type (cached: they never change)."""
    count = PROPERTY_COUNTS.get(type_name, SMALL_TYPE_PROPERTY_COUNT)
    return _build_properties(type_name, count, custom=False)


@functools.lru_cache(maxsize=None)
def custom_properties(short_name: str) -> tuple[PropertyDef, ...]:
    """Property definitions of one of the sandbox's custom objects."""
    return _build_properties(short_name, CUSTOM_PROPERTY_COUNT, custom=True)


@dataclass(frozen=True)
class CustomObjectDef:
    """A custom object schema the sandbox creates in every account."""

    name: str  # short name, e.g. "pets"; fullyQualifiedName is p<portal>_<name>
    singular: str
    plural: str
    associated_to: tuple[str, ...]  # standard type names


CUSTOM_OBJECTS: tuple[CustomObjectDef, ...] = (
    CustomObjectDef("pets", "Pet", "Pets", ("contacts",)),
    CustomObjectDef("vehicles", "Vehicle", "Vehicles", ("companies", "contacts")),
)


@dataclass(frozen=True)
class AssociationPairDef:
    """A child->parent association rule, e.g. each contact -> one company.

    `forward_type_id`/`reverse_type_id` are the unlabelled HUBSPOT_DEFINED ids in
    the child->parent and parent->child directions; `primary` the (forward,
    reverse) ids of the "Primary" label when HubSpot has one for the pair.
    """

    child: str
    parent: str
    forward_type_id: int
    reverse_type_id: int
    primary: tuple[int, int] | None = None
    user_labels: tuple[tuple[int, int, str], ...] = ()
    category: str = "HUBSPOT_DEFINED"
    big_cluster: bool = False  # parent 0 gets a block of children (paging test)


# HubSpot-defined association type ids; USER_DEFINED labels use ids >= 30
# like real portals' custom labels.
STANDARD_ASSOCIATIONS: tuple[AssociationPairDef, ...] = (
    AssociationPairDef("contacts", "companies", 279, 280, primary=(1, 2),
                       user_labels=((34, 35, "Decision maker"), (36, 37, "Billing contact")),
                       big_cluster=True),
    AssociationPairDef("deals", "contacts", 3, 4, user_labels=((38, 39, "Champion"),)),
    AssociationPairDef("deals", "companies", 341, 342, primary=(5, 6)),
    AssociationPairDef("tickets", "contacts", 16, 15),
    AssociationPairDef("tickets", "companies", 339, 340, primary=(26, 25)),
    AssociationPairDef("line_items", "deals", 20, 19),
    AssociationPairDef("notes", "contacts", 202, 201),
    AssociationPairDef("calls", "contacts", 194, 193),
    AssociationPairDef("tasks", "contacts", 204, 203),
)

EVENT_TYPES_HUBSPOT = ("e_visited_page", "e_form_submission_v2", "e_opened_email")
CUSTOM_EVENT_NAME = "custom_event"  # full name: pe<portal>_custom_event


def object_scope(type_name: str, custom: bool) -> str:
    """The read scope HubSpot names in a 403 for this object type."""
    if custom:
        return "crm.objects.custom.read"
    if type_name in ("contacts", "companies", "deals", "quotes", "line_items", "owners", "users"):
        return f"crm.objects.{type_name}.read"
    if type_name == "tickets":
        return "tickets"
    if type_name == "products":
        return "e-commerce"
    # Scopes of the OpenAPI files (HubSpot-public-api-spec-collection, Goal Targets and
    # Commerce Payments v3): the scope names differ from the URL names.
    if type_name == "goal_targets":
        return "crm.objects.goals.read"
    if type_name == "commerce_payments":
        return "crm.objects.commercepayments.read"
    return f"crm.objects.{type_name}.read"


EVENTS_SCOPE = "behavioral_events.event_definitions.read_write"
SCHEMAS_SCOPE = "crm.schemas.custom.read"
