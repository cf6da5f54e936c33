"""Owners, pipelines, sensitive properties: the reference data that gives records meaning.

Both are small, so they are not stored: each is a pure function of the
account's seed and `advance` step (`account.step_count`), replayed from the
initial state on every request. Deterministic, and `advance` changes them
without any hook in `Account.advance`.

Shapes follow HubSpot's OpenAPI files (HubSpot-public-api-spec-collection):
- `GET /crm/v3/owners/` (HubSpot's owners reference and the official client's
  `hubspot.crm.owners` models, PublicOwner / CollectionResponsePublicOwnerForwardPaging): `email`, `after`, `limit` (default 100,
  max 500) and `archived` (only archived owners when true) query parameters;
  `results[]` of PublicOwner (`id`, `email`, `type` PERSON|QUEUE, `firstName`,
  `lastName`, `userId`, `userIdIncludingInactive`, `teams[]`, `createdAt`,
  `updatedAt`, `archived`), `paging.next.after` while more remain; scope
  `crm.objects.owners.read`.
- `GET /crm/v3/pipelines/{objectType}` (CRM/Pipelines/Rollouts/145896/v3/
  pipelines.json): no paging, `results[]` of Pipeline (`id`, `label`,
  `displayOrder`, `stages[]`, `createdAt`, `updatedAt`, `archived`) with
  PipelineStage (`id`, `label`, `displayOrder`, `metadata` of strings — deals:
  `probability`, tickets: `ticketState` — `createdAt`, `updatedAt`, `archived`,
  `writePermissions`); the read scope of the object type. Types without
  pipelines answer 400.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

from . import api
from .account import Account
from .api import ApiError, Request, _type, bad_request, error_body, missing_scope, resolve_type
from .catalog import SENSITIVITY_LEVELS, sensitive_scope
from .encoding import decode_cursor, encode_cursor, iso_ms, mix2

OWNERS_SCOPE = "crm.objects.owners.read"
OWNERS_LIMIT_DEFAULT, OWNERS_LIMIT_MAX = 100, 500
BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: after the schemas' timestamps
STEP_MS = 3_600_000          # each advance step dates its changes one hour later
OWNER_ID_BASE = 80_000_000
USER_ID_BASE = 9_000_000
INITIAL_OWNERS = 12
INITIAL_ARCHIVED = 2   # the last two owners are deactivated users
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
               "Margaret", "John", "Radia", "Tim", "Sophie", "Dennis", "Hedy", "Linus")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen",
              "Thompson", "Hamilton", "Backus", "Perlman", "Berners-Lee", "Wilson",
              "Ritchie", "Lamarr", "Torvalds")


def step_ms(step: int) -> int:
    """When the changes of `advance` step `step` happened (step 0: the initial state)."""
    return BASE_MS + step * STEP_MS


# -- owners -------------------------------------------------------------------------------
@dataclass
class Owner:
    k: int
    first: str
    last: str
    team: int
    created: int
    updated: int
    archived: bool = False

    @property
    def id(self) -> str:
        return str(OWNER_ID_BASE + self.k)

    def to_json(self) -> dict:
        user_id = USER_ID_BASE + self.k
        return {
            "id": self.id,
            "email": f"{self.first}.{self.last}@sandbox.example".lower(),
            "type": "PERSON",
            "firstName": self.first,
            "lastName": self.last,
            # A deactivated user keeps its id only in userIdIncludingInactive.
            "userId": None if self.archived else user_id,
            "userIdIncludingInactive": user_id,
            "createdAt": iso_ms(self.created),
            "updatedAt": iso_ms(self.updated),
            "archived": self.archived,
            "teams": [{"id": str(700 + self.team), "name": f"Team {self.team}", "primary": True}],
        }


def owners(account: Account) -> list[Owner]:
    """Every owner, live and archived, as of the account's current step (by id)."""
    seed = account.spec.seed

    def new(k: int, at: int) -> Owner:
        h = mix2(seed, 1_000 + k)
        return Owner(k, FIRST_NAMES[h % len(FIRST_NAMES)], LAST_NAMES[(h >> 8) % len(LAST_NAMES)],
                     k % 3, at, at)

    out = [new(k, step_ms(0) - (INITIAL_OWNERS - k) * 86_400_000) for k in range(INITIAL_OWNERS)]
    for o in out[INITIAL_OWNERS - INITIAL_ARCHIVED:]:
        o.archived = True
    for step in range(1, account.step_count + 1):
        at = step_ms(step)
        live = [o for o in out if not o.archived]
        # Every step renames one live owner; odd steps hire one, every fourth deactivates one.
        renamed = live[mix2(seed, step) % len(live)]
        renamed.last = f"{LAST_NAMES[(mix2(seed, step) >> 16) % len(LAST_NAMES)]}-{step}"
        renamed.updated = at
        if step % 2:
            out.append(new(len(out), at))
        if step % 4 == 0 and len(live) > 2:
            gone = live[-1] if live[-1] is not renamed else live[-2]
            gone.archived, gone.updated = True, at
    return out


def list_owners(req: Request) -> tuple[int, dict]:
    """`GET /crm/v3/owners/`: live (or, with archived=true, archived) owners, paged."""
    if "owners" in req.account.spec.denied_types:
        raise missing_scope(OWNERS_SCOPE)
    limit = min(max(req.int_param("limit", OWNERS_LIMIT_DEFAULT), 1), OWNERS_LIMIT_MAX)
    archived = (req.one("archived") or "false").strip().lower() == "true"
    email = req.one("email")
    start = 0
    if req.one("after"):
        start = decode_cursor("w", req.one("after"))
        if start is None:
            raise bad_request(f"Invalid after cursor: {req.one('after')}")
    with req.account.lock:
        rows = [o.to_json() for o in owners(req.account) if o.archived == archived]
    if email:
        rows = [r for r in rows if r["email"] == email.lower()]
    page = rows[start:start + limit]
    out: dict = {"results": page}
    if start + limit < len(rows):
        after = encode_cursor("w", start + limit)
        out["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return 200, out


# -- pipelines ----------------------------------------------------------------------------
@dataclass
class Stage:
    id: str
    label: str
    order: int
    metadata: dict[str, str]
    created: int
    updated: int

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "displayOrder": self.order,
                "metadata": dict(self.metadata), "createdAt": iso_ms(self.created),
                "updatedAt": iso_ms(self.updated), "archived": False,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}


@dataclass
class Pipeline:
    id: str
    label: str
    order: int
    stages: list[Stage] = field(default_factory=list)
    created: int = BASE_MS
    updated: int = BASE_MS

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "displayOrder": self.order,
                "stages": [s.to_json() for s in self.stages],
                "createdAt": iso_ms(self.created), "updatedAt": iso_ms(self.updated),
                "archived": False}


def _deal_stages(ids: tuple[str, ...], at: int) -> list[Stage]:
    last = len(ids) - 1
    return [Stage(sid, sid.replace("_", " ").title(), k,
                  {"probability": "1.0" if sid == "closedwon" else "0.0" if sid == "closedlost"
                   else f"{min(0.9, 0.2 * (k + 1)):.1f}",
                   "isClosed": "true" if k >= last - 1 and sid.startswith("closed") else "false"},
                  at, at) for k, sid in enumerate(ids)]


# Pipelines of each type that has them, as HubSpot's defaults name them; the deal
# stage and ticket stage ids are the option values the records carry (catalog._OPTIONS).
def _initial_pipelines() -> dict[str, list[Pipeline]]:
    t0 = BASE_MS - 365 * 86_400_000
    ticket_states = ("OPEN", "OPEN", "OPEN", "CLOSED")
    return {
        "deals": [
            Pipeline("default", "Sales Pipeline", 0, _deal_stages(
                ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                 "closedwon", "closedlost"), t0), t0, t0),
            Pipeline("renewals", "Renewals", 1, _deal_stages(
                ("renewal_due", "renewal_negotiation", "closedwon", "closedlost"), t0), t0, t0),
        ],
        "tickets": [
            Pipeline("0", "Support Pipeline", 0, [
                Stage(str(k + 1), ("New", "Waiting on contact", "Waiting on us", "Closed")[k], k,
                      {"ticketState": ticket_states[k]}, t0, t0) for k in range(4)], t0, t0),
        ],
        "leads": [
            Pipeline("lead-pipeline-id", "Lead pipeline", 0, [
                Stage(f"{name}-stage-id", name.title(), k, {}, t0, t0)
                for k, name in enumerate(("new", "attempting", "connected", "qualified"))], t0, t0),
        ],
        "orders": [
            Pipeline("orders-default", "Orders", 0, [
                Stage(f"order-{name}", name.title(), k, {}, t0, t0)
                for k, name in enumerate(("checkout_pending", "processed", "shipped"))], t0, t0),
        ],
    }


def pipelines(account: Account) -> dict[str, list[Pipeline]]:
    """Every type's pipelines as of the account's current step."""
    out = _initial_pipelines()
    renewals = out["deals"][1]
    for step in range(1, account.step_count + 1):
        at = step_ms(step)
        # Every step relabels one renewal stage; every third adds one before the closed ones.
        stage = renewals.stages[mix2(account.spec.seed, 50 + step) % len(renewals.stages)]
        renewals.stages[renewals.stages.index(stage)] = replace(
            stage, label=f"{stage.label.split(' (')[0]} (rev {step})", updated=at)
        if step % 3 == 0:
            new = Stage(f"renewal_step_{step}", f"Renewal step {step}", 0,
                        {"probability": "0.5", "isClosed": "false"}, at, at)
            renewals.stages.insert(len(renewals.stages) - 2, new)
            for k, s in enumerate(renewals.stages):
                s.order = k
        renewals.updated = at
    return out


def list_pipelines(req: Request, object_type: str) -> tuple[int, dict]:
    """`GET /crm/v3/pipelines/{objectType}`: every pipeline of the type, stages included."""
    otype, _ = _type(req, object_type)  # 400 for an unknown type, 403 without its scope
    with req.account.lock:
        found = pipelines(req.account).get(otype.name) if not otype.custom else None
    if found is None:
        raise ApiError(400, error_body(
            f"Object type {object_type} does not support pipelines", "VALIDATION_ERROR"))
    return 200, {"results": [p.to_json() for p in found]}


def pipeline_types() -> list[str]:
    """The types the sandbox has pipelines for."""
    return list(_initial_pipelines())


# -- sensitive properties -----------------------------------------------------------------
# HubSpot's Sensitive Data guide: listing the definitions of Sensitive Data properties
# needs no extra scope (`GET /crm/v3/properties/{objectType}?dataSensitivity=sensitive`;
# a plain listing holds only non_sensitive ones), reading their values needs
# crm.objects.<type>.sensitive.read (highly_sensitive: .highly_sensitive.read).
# What HubSpot answers a read naming them without that scope is not documented; the
# sandbox answers 403 naming the scope, as for any other missing scope. A token lacking
# the scopes is `denied_types={"sensitive"}` (both levels) or {"highly_sensitive"}.
def list_properties(req: Request, object_type: str) -> tuple[int, dict]:
    """`GET /crm/v3/properties/{objectType}[?dataSensitivity=]`: one sensitivity's definitions."""
    level = req.one("dataSensitivity") or "non_sensitive"
    if level not in SENSITIVITY_LEVELS:
        raise bad_request(f"Invalid value for dataSensitivity: {level!r}; one of "
                          f"{', '.join(SENSITIVITY_LEVELS)}")
    status, body = api.list_properties(req, object_type)
    otype, _ = _type(req, object_type, check_scope=False)  # api.list_properties checked it
    with req.account.lock:
        results = [_advanced(req.account, otype.fully_qualified_name, p) for p in body["results"]
                   if p.get("dataSensitivity", "non_sensitive") == level]
    return status, {**body, "results": results}


#: The enumeration whose options `advance` grows: one option every second step.
ADVANCING_PROPERTY = ("contacts", "hs_lead_status")


def _advanced(account: Account, fqn: str, definition: dict) -> dict:
    """A definition as of the account's step (only ADVANCING_PROPERTY changes)."""
    if (fqn, definition["name"]) != ADVANCING_PROPERTY or account.step_count < 2:
        return definition
    added = account.step_count // 2
    options = list(definition["options"]) + [
        {"label": f"Step {2 * k} status", "value": f"STEP_{2 * k}",
         "displayOrder": len(definition["options"]) + k - 1, "hidden": False}
        for k in range(1, added + 1)]
    return {**definition, "options": options, "updatedAt": iso_ms(step_ms(2 * added))}


def denied_sensitivities(account: Account) -> set[str]:
    """The sensitivity levels whose values the account's token may not read."""
    denied = account.spec.denied_types
    if "sensitive" in denied:
        return {"sensitive", "highly_sensitive"}
    return {"highly_sensitive"} & set(denied)


def sensitive_guard(handler):
    """`handler` (an object read), refused with 403 when it names a sensitive property
    whose scope the token lacks."""
    @functools.wraps(handler)
    def guarded(req: Request, object_type: str, *rest):
        names = req.many("properties")
        if names is None and isinstance(req.body, dict):
            names = req.body.get("properties")
        denied = denied_sensitivities(req.account)
        if names and denied:
            otype = resolve_type(req.account, object_type)  # as the handler resolves it
            levels = {p.name: p.data_sensitivity for p in otype.properties} if otype else {}
            for name in names:
                if levels.get(name) in denied:
                    raise missing_scope(sensitive_scope(otype.name, otype.custom, levels[name]))
        return handler(req, object_type, *rest)
    return guarded


# -- ground truth -------------------------------------------------------------------------
def truth_owners(account: Account) -> list[dict]:
    """Every owner a full sync must store (live then archived listings)."""
    rows = [o.to_json() for o in owners(account)]
    return [r for r in rows if not r["archived"]] + [r for r in rows if r["archived"]]


def truth_pipelines(account: Account) -> dict[str, list[dict]]:
    return {name: [p.to_json() for p in found] for name, found in pipelines(account).items()
            if not account.is_denied(account.resolve(name))}


def truth_properties(account: Account) -> dict[str, list[dict]]:
    """Every property definition of every readable type, sensitive ones included."""
    return {fqn: [_advanced(account, fqn, p.to_json(api.SCHEMA_TIMESTAMP)) for p in t.properties]
            for fqn, t in account.types.items() if not account.is_denied(t)}


def truth_association_labels(account: Account) -> dict[str, dict]:
    """Every association type of every pair, both directions, keyed like the product's
    collection: "{from}->{to}|{category}|{typeId}"."""
    out = {}
    for (child, parent), pair in account.pairs.items():
        for a, b, forward in ((child, parent, True), (parent, child, False)):
            for spec in pair.label_specs(forward):
                out[f"{a}->{b}|{spec['category']}|{spec['typeId']}"] = {
                    **spec, "fromObjectType": a, "toObjectType": b}
    return out


def readable_property_names(account: Account, object_type: str) -> tuple[str, ...]:
    """The properties whose values the token may read (what a full sync copies)."""
    denied = denied_sensitivities(account)
    return tuple(p.name for p in account.resolve(object_type).properties
                 if p.data_sensitivity not in denied)


__all__ = ["OWNERS_SCOPE", "list_owners", "list_pipelines", "list_properties", "owners",
           "pipeline_types", "pipelines", "readable_property_names", "sensitive_guard",
           "truth_association_labels", "truth_owners", "truth_pipelines", "truth_properties"]
