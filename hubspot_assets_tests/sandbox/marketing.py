"""HubSpot's marketing endpoints: lists and list memberships (below), then forms and form
submissions, marketing emails, campaigns and marketing email events (each section cites
its source).

Shapes, paging and limits follow HubSpot-public-api-spec-collection
`PublicApiSpecs/CRM/Lists/Rollouts/144891/v3/lists.json` and the official
client's `hubspot.crm.lists` models:

- `POST /crm/v3/lists/search`: ListSearchRequest (`offset` default 0, `count`
  default 20 "max 500", `query` on the name, `listIds`, `processingTypes`,
  `additionalProperties`); ListSearchResponse (`lists`, `hasMore`, `offset`,
  `total`) of PublicObjectListSearchResult, whose `additionalProperties` hold by
  default `hs_list_size`, `hs_last_record_added_at`, `hs_last_record_removed_at`,
  `hs_folder_name`, `hs_list_reference_count` ("properties ... empty for a
  particular list are not included").
- `GET /crm/v3/lists/?listIds=&includeFilters=`: ListsByIdResponse (`lists` of
  PublicObjectList; `filterBranch` only with includeFilters=true, `size`);
  ids of deleted lists are left out.
- `GET /crm/v3/lists/{listId}/memberships`: `after`/`before`, `limit` (default
  100, "The maximum `limit` is 250"), results JoinTimeAndRecordId
  (`recordId`, `membershipTimestamp`) in ascending recordId order, `total`,
  `paging.next.after`; an unknown list answers 404.
All need `crm.lists.read` (a token without it: `denied_types={"lists"}`); the
API's tier requirements include FREE for sales, service and crmHub, so every
tier has it.

Nothing is stored: lists and memberships are a pure function of the seed, the
records and the `advance` steps (`account.step_times`, the clock at the end
of each step, so incremental syncs keyed on real time see the changes):

- contacts lists 1-4 and a companies list 5 exist from the start; DYNAMIC and
  MANUAL lists gain and lose a few members every step, a SNAPSHOT list never
  gains any; a record deleted by `advance` leaves every list;
- every even step changes the filters of one DYNAMIC list; every third step
  creates a MANUAL list; step 4 deletes list 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from .account import Account
from .api import ApiError, Request, bad_request, error_body, missing_scope
from .encoding import decode_cursor, encode_cursor, iso_ms, mix2, parse_time

LISTS_SCOPE = "crm.lists.read"
SEARCH_COUNT_DEFAULT, SEARCH_COUNT_MAX = 20, 500
MEMBERSHIPS_LIMIT_DEFAULT, MEMBERSHIPS_LIMIT_MAX = 100, 250
BASE_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z: when the base lists were made
CREATOR_ID = "9000001"
TOGGLE_ONE_IN = 23           # each step toggles about one record in 23 of a changing list


@dataclass
class ListDef:
    list_id: str
    name: str
    object_type_id: str
    processing_type: str      # MANUAL | DYNAMIC | SNAPSHOT
    one_in: int               # a record is a base member when its hash is 0 mod one_in
    created_step: int = 0
    deleted_step: int | None = None
    filter_value: str = "subscriber"
    filter_step: int = 0      # the step that last changed its filters
    version: int = 1


BASE_LISTS = (
    ("1", "Newsletter subscribers", "0-1", "DYNAMIC", 3),
    ("2", "Trade show leads", "0-1", "MANUAL", 5),
    ("3", "Customers snapshot", "0-1", "SNAPSHOT", 4),
    ("4", "Re-engagement", "0-1", "DYNAMIC", 7),
    ("5", "Key accounts", "0-2", "DYNAMIC", 2),
)
STORE_OF_TYPE = {"0-1": "contacts", "0-2": "companies"}
DELETE_STEP, DELETED_LIST = 4, "2"


def list_defs(account: Account, include_deleted: bool = False) -> list[ListDef]:
    """Every list as of the account's current step, by list id."""
    out = [ListDef(*row) for row in BASE_LISTS]
    dynamic = [d for d in out if d.processing_type == "DYNAMIC"]
    for step in range(1, account.step_count + 1):
        if step % 2 == 0:
            changed = dynamic[mix2(account.spec.seed, 700 + step) % len(dynamic)]
            changed.filter_value = f"segment-{step}"
            changed.filter_step, changed.version = step, changed.version + 1
        if step % 3 == 0:
            out.append(ListDef(str(100 + step), f"Webinar {step} attendees", "0-1", "MANUAL", 6,
                               created_step=step))
        if step == DELETE_STEP:
            next(d for d in out if d.list_id == DELETED_LIST).deleted_step = step
    return [d for d in out if include_deleted or d.deleted_step is None]


def step_time(account: Account, step: int) -> int:
    """When `advance` step `step` ended (step 0: the base lists' creation)."""
    return BASE_MS if step == 0 else account.step_times[step - 1]


@dataclass
class Membership:
    members: dict[int, int]   # record id -> membershipTimestamp (ms)
    last_added: int | None
    last_removed: int | None


def memberships(account: Account, d: ListDef) -> Membership:
    """Replay one list's membership over the account's steps (cached per state)."""
    store = account.stores[STORE_OF_TYPE[d.object_type_id]]
    key = (d.list_id, account.step_count, store.total, store.counts())
    cache = account.__dict__.setdefault("_list_memberships", {})
    if key in cache:
        return cache[key]
    seed = account.spec.seed
    salt = mix2(seed, 500 + int(d.list_id))
    created = step_time(account, d.created_step)
    members: dict[int, int] = {}
    last_added = last_removed = None
    steps = [(s, step_time(account, s)) for s in range(d.created_step + 1, account.step_count + 1)]
    for i in range(store.total):
        if i < store.n and store.base_archived(i):
            continue  # deleted before any list existed
        rid = store.record_id(i)
        born = store.createdate(i)
        gone = store.archived_at(i)
        member = mix2(salt, rid) % d.one_in == 0
        joined = max(created, born)
        if member and (gone is None or gone > joined):
            last_added = max(last_added or 0, joined) if born > created else last_added
        for s, at in steps:
            if gone is not None and gone <= at:
                break
            if at <= born or d.processing_type == "SNAPSHOT":
                continue
            if mix2(salt, rid * 1_000 + s) % TOGGLE_ONE_IN == 0:
                member = not member
                if member:
                    joined, last_added = at, max(last_added or 0, at)
                else:
                    last_removed = max(last_removed or 0, at)
        if gone is not None and gone > created:
            if member:
                last_removed = max(last_removed or 0, gone)
            continue
        if member:
            members[rid] = joined
    result = Membership(members, last_added, last_removed)
    if len(cache) > 64:
        cache.clear()
    cache[key] = result
    return result


def _filter_branch(d: ListDef) -> dict | None:
    """A DYNAMIC or SNAPSHOT list's definition (PublicOrFilterBranch of one AND branch)."""
    if d.processing_type == "MANUAL":
        return None
    prop = "lifecyclestage" if d.object_type_id == "0-1" else "type"
    return {"filterBranchType": "OR", "filterBranchOperator": "OR", "filters": [],
            "filterBranches": [{
                "filterBranchType": "AND", "filterBranchOperator": "AND", "filterBranches": [],
                "filters": [{"filterType": "PROPERTY", "property": prop, "operation": {
                    "operationType": "ENUMERATION", "operator": "IS_ANY_OF",
                    "includeObjectsWithNoValueSet": False, "values": [d.filter_value]}}]}]}


def _base_json(account: Account, d: ListDef) -> dict:
    changed = step_time(account, max(d.created_step, d.filter_step))
    return {
        "listId": d.list_id, "listVersion": d.version, "name": d.name,
        "objectTypeId": d.object_type_id, "processingStatus": "COMPLETE",
        "processingType": d.processing_type,
        "createdAt": iso_ms(step_time(account, d.created_step)), "createdById": CREATOR_ID,
        "updatedAt": iso_ms(changed), "updatedById": CREATOR_ID,
        "filtersUpdatedAt": iso_ms(changed),
    }


def search_json(account: Account, d: ListDef) -> dict:
    """One PublicObjectListSearchResult with HubSpot's default additionalProperties."""
    m = memberships(account, d)
    extra = {"hs_list_size": str(len(m.members)), "hs_list_reference_count": "0"}
    if m.last_added is not None:
        extra["hs_last_record_added_at"] = str(m.last_added)
    if m.last_removed is not None:
        extra["hs_last_record_removed_at"] = str(m.last_removed)
    return {**_base_json(account, d), "additionalProperties": extra}


def list_json(account: Account, d: ListDef, include_filters: bool) -> dict:
    """One PublicObjectList (the multi-list fetch)."""
    out = {**_base_json(account, d), "size": len(memberships(account, d).members)}
    branch = _filter_branch(d)
    if include_filters and branch is not None:
        out["filterBranch"] = branch
    return out


def _window(req: Request, kind: str, default: int, maximum: int) -> tuple[int, int]:
    """The (start, limit) of a cursor-paged listing: `limit` clamped to 1..maximum, the
    `after` cursor (of this listing's `kind`) decoded or refused with 400."""
    limit = min(max(req.int_param("limit", default), 1), maximum)
    if not req.one("after"):
        return 0, limit
    start = decode_cursor(kind, req.one("after"))
    if start is None:
        raise bad_request(f"Invalid after cursor: {req.one('after')}")
    return start, limit


def _page(rows: list, start: int, limit: int, kind: str, total: bool = False) -> dict:
    """One page of ``rows`` with HubSpot's `paging.next` while more remain."""
    out: dict = {"results": rows[start:start + limit]}
    if total:
        out["total"] = len(rows)
    if start + limit < len(rows):
        after = encode_cursor(kind, start + limit)
        out["paging"] = {"next": {"after": after, "link": f"?after={after}&limit={limit}"}}
    return out


def _check_scope(req: Request) -> None:
    if "lists" in req.account.spec.denied_types:
        raise missing_scope(LISTS_SCOPE)


def search_lists(req: Request) -> tuple[int, dict]:
    """`POST /crm/v3/lists/search`: lists by id, `count` at a time from `offset`."""
    _check_scope(req)
    body = req.body if isinstance(req.body, dict) else {}
    offset, count = body.get("offset", 0), body.get("count", SEARCH_COUNT_DEFAULT)
    if not isinstance(offset, int) or offset < 0 or not isinstance(count, int) or count < 1:
        raise bad_request(f"Invalid offset or count: {offset!r}, {count!r}")
    if count > SEARCH_COUNT_MAX:
        # The reference gives the maximum but not the answer past it; a 400 shows the mistake.
        raise bad_request(f"count must be at most {SEARCH_COUNT_MAX}, got {count}")
    with req.account.lock:
        found = list_defs(req.account)
        if body.get("query"):
            found = [d for d in found if str(body["query"]).lower() in d.name.lower()]
        if body.get("listIds"):
            found = [d for d in found if d.list_id in {str(i) for i in body["listIds"]}]
        if body.get("processingTypes"):
            found = [d for d in found if d.processing_type in set(body["processingTypes"])]
        found.sort(key=lambda d: int(d.list_id))
        page = [search_json(req.account, d) for d in found[offset:offset + count]]
    end = offset + len(page)
    return 200, {"lists": page, "hasMore": end < len(found), "offset": end, "total": len(found)}


def get_lists(req: Request) -> tuple[int, dict]:
    """`GET /crm/v3/lists/?listIds=...&includeFilters=`: the named lists that exist."""
    _check_scope(req)
    wanted = req.many("listIds") or []
    include = (req.one("includeFilters") or "false").strip().lower() == "true"
    with req.account.lock:
        by_id = {d.list_id: d for d in list_defs(req.account)}
        return 200, {"lists": [list_json(req.account, by_id[i], include)
                               for i in dict.fromkeys(wanted) if i in by_id]}


def list_memberships(req: Request, list_id: str) -> tuple[int, dict]:
    """`GET /crm/v3/lists/{listId}/memberships`: members by ascending recordId, paged."""
    _check_scope(req)
    start, limit = _window(req, "m", MEMBERSHIPS_LIMIT_DEFAULT, MEMBERSHIPS_LIMIT_MAX)
    with req.account.lock:
        d = next((d for d in list_defs(req.account) if d.list_id == list_id), None)
        if d is None:
            raise ApiError(404, error_body(f"List {list_id} does not exist.", "OBJECT_NOT_FOUND"))
        members = memberships(req.account, d).members
        ids = sorted(members)
    out = _page(ids, start, limit, "m", total=True)
    out["results"] = [{"recordId": str(r), "membershipTimestamp": iso_ms(members[r])}
                      for r in out["results"]]
    return 200, out


# -- ground truth -------------------------------------------------------------------------
def truth_lists(account: Account) -> dict[str, dict]:
    """Every list as search returns it, with its filterBranch (None for MANUAL lists)."""
    with account.lock:
        return {d.list_id: {**search_json(account, d), "filterBranch": _filter_branch(d)}
                for d in list_defs(account)}


def truth_memberships(account: Account) -> dict[str, dict]:
    """`{listId}|{recordId}` -> the membership as HubSpot lists it, for every list."""
    with account.lock:
        return {f"{d.list_id}|{r}": {"recordId": str(r), "membershipTimestamp": iso_ms(at)}
                for d in list_defs(account)
                for r, at in memberships(account, d).members.items()}


def deleted_list_ids(account: Account) -> list[str]:
    return [d.list_id for d in list_defs(account, include_deleted=True) if d.deleted_step]


# -- forms and submissions ------------------------------------------------------------------
# `GET /marketing/v3/forms` (PublicApiSpecs/Marketing/Forms/Rollouts/144909/v3/forms.json;
# the official client's `hubspot.marketing.forms` models): `after`, `limit`, `archived`
# (only archived forms when true), `formTypes`; CollectionResponseFormDefinitionBaseForwardPaging
# of HubSpotFormDefinition (required: id, name, formType, createdAt, updatedAt, archived,
# fieldGroups, configuration, displayOptions, legalConsentOptions). The spec gives no
# maximum `limit`: the sandbox serves at most 100 a page. Scope `forms`.
# `GET /form-integrations/v1/submissions/forms/{formGuid}` (legacy, HubSpot's "Forms v1"
# reference): newest first, `limit` default 20 and at most 50, `after`; each result has
# `submittedAt` (epoch ms), `values` [{name, value, objectTypeId}], `pageUrl` and
# `conversionId`. An unknown form answers 404.
FORMS_SCOPE = "forms"
FORMS_LIMIT_DEFAULT, FORMS_LIMIT_MAX = 20, 100
SUBMISSIONS_LIMIT_DEFAULT, SUBMISSIONS_LIMIT_MAX = 20, 50
BASE_FORMS = ("Newsletter signup", "Contact us", "Webinar registration")
BASE_SUBMISSIONS = (30, 75, 12)   # submissions each base form had before the sandbox began
ARCHIVE_STEP, ARCHIVED_FORM = 3, 1  # step 3 archives "Contact us"
SUBMISSIONS_PER_STEP = 3


@dataclass
class FormDef:
    k: int
    name: str
    created_step: int = 0
    updated_step: int = 0
    archived_step: int | None = None


def _guid(seed: int, k: int) -> str:
    h = f"{mix2(seed, 900 + k):016x}{mix2(seed, 950 + k):016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def form_defs(account: Account) -> list[FormDef]:
    """Every form, live and archived, as of the account's current step."""
    out = [FormDef(k, name) for k, name in enumerate(BASE_FORMS)]
    for step in range(1, account.step_count + 1):
        if step % 2:
            out.append(FormDef(len(out), f"Landing page {step}", created_step=step,
                               updated_step=step))
        else:
            renamed = out[0]
            renamed.name, renamed.updated_step = f"{BASE_FORMS[0]} (v{step})", step
        if step == ARCHIVE_STEP:
            out[ARCHIVED_FORM].archived_step = step
            out[ARCHIVED_FORM].updated_step = step
    return out


def form_json(account: Account, f: FormDef) -> dict:
    at = step_time(account, f.created_step) - (len(BASE_FORMS) - f.k) * 86_400_000 \
        if f.created_step == 0 else step_time(account, f.created_step)
    out = {
        "id": _guid(account.spec.seed, f.k), "name": f.name, "formType": "hubspot",
        "createdAt": iso_ms(at), "updatedAt": iso_ms(max(at, step_time(account, f.updated_step))),
        "archived": f.archived_step is not None,
        "fieldGroups": [{"groupType": "default_group", "richTextType": "text", "fields": [
            {"objectTypeId": "0-1", "name": "email", "label": "Email", "required": True,
             "hidden": False, "fieldType": "email", "dependentFields": [],
             "validation": {"blockedEmailDomains": [], "useDefaultBlockList": False}},
            {"objectTypeId": "0-1", "name": "firstname", "label": "First name",
             "required": False, "hidden": False, "fieldType": "single_line_text",
             "dependentFields": []}]}],
        "configuration": {
            "language": "en", "cloneable": True, "editable": True, "archivable": True,
            "recaptchaEnabled": False, "notifyContactOwner": False, "notifyRecipients": [],
            "createNewContactForNewEmail": False, "prePopulateKnownValues": True,
            "allowLinkToResetKnownValues": False,
            "postSubmitAction": {"type": "thank_you", "value": "Thanks for submitting the form."}},
        "displayOptions": {
            "renderRawHtml": False, "theme": "default_style", "submitButtonText": "Submit",
            "style": {"fontFamily": "arial, helvetica, sans-serif", "backgroundWidth": "100%",
                      "labelTextColor": "#33475b", "labelTextSize": "14px",
                      "helpTextColor": "#7C98B6", "helpTextSize": "11px",
                      "legalConsentTextColor": "#33475b", "legalConsentTextSize": "14px",
                      "submitColor": "#ff7a59", "submitAlignment": "left",
                      "submitFontColor": "#ffffff", "submitSize": "12px"}},
        "legalConsentOptions": {"type": "none"},
    }
    if f.archived_step is not None:
        out["archivedAt"] = iso_ms(step_time(account, f.archived_step))
    return out


def submissions(account: Account, f: FormDef) -> list[dict]:
    """A form's submissions, newest first: its base ones, then a few per step while live."""
    seed = account.spec.seed
    made = []
    if f.created_step == 0:
        first = step_time(account, 0)
        made += [first - 3_600_000 * (j + 1) for j in range(BASE_SUBMISSIONS[f.k])]
    for step in range(max(1, f.created_step + 1), account.step_count + 1):
        if f.archived_step is not None and step > f.archived_step:
            break  # an archived form accepts no new submissions
        made += [step_time(account, step) - j for j in range(SUBMISSIONS_PER_STEP)]
    out = []
    for n, at in enumerate(sorted(made, reverse=True)):
        h = mix2(mix2(seed, 960 + f.k), at)
        out.append({
            "conversionId": f"{h:016x}-{f.k}",
            "submittedAt": at,
            "values": [{"name": "email", "value": f"visitor{h % 100_000}@sandbox.example",
                        "objectTypeId": "0-1"},
                       {"name": "firstname", "value": FIRST_NAMES[h % len(FIRST_NAMES)],
                        "objectTypeId": "0-1"}],
            "pageUrl": f"https://www.sandbox.example/forms/{f.k}",
        })
    return out


FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")


def list_forms(req: Request) -> tuple[int, dict]:
    """`GET /marketing/v3/forms`: live (or, with archived=true, archived) forms, paged."""
    if "forms" in req.account.spec.denied_types:
        raise missing_scope(FORMS_SCOPE)
    start, limit = _window(req, "f", FORMS_LIMIT_DEFAULT, FORMS_LIMIT_MAX)
    archived = (req.one("archived") or "false").strip().lower() == "true"
    with req.account.lock:
        rows = [form_json(req.account, f) for f in form_defs(req.account)
                if (f.archived_step is not None) == archived]
    return 200, _page(rows, start, limit, "f")


def list_submissions(req: Request, form_guid: str) -> tuple[int, dict]:
    """`GET /form-integrations/v1/submissions/forms/{formGuid}`: newest first, paged."""
    if "forms" in req.account.spec.denied_types:
        raise missing_scope(FORMS_SCOPE)
    start, limit = _window(req, "s", SUBMISSIONS_LIMIT_DEFAULT, SUBMISSIONS_LIMIT_MAX)
    with req.account.lock:
        form = next((f for f in form_defs(req.account)
                     if _guid(req.account.spec.seed, f.k) == form_guid), None)
        if form is None:
            raise ApiError(404, error_body(f"Form {form_guid} does not exist.", "OBJECT_NOT_FOUND"))
        rows = submissions(req.account, form)
    return 200, _page(rows, start, limit, "s")


def truth_forms(account: Account) -> dict[str, dict]:
    """Every form (live and archived) by id, as HubSpot lists it."""
    with account.lock:
        return {_guid(account.spec.seed, f.k): form_json(account, f) for f in form_defs(account)}


def truth_submissions(account: Account) -> dict[str, list[dict]]:
    """Every form's submissions by form id, newest first."""
    with account.lock:
        return {_guid(account.spec.seed, f.k): submissions(account, f)
                for f in form_defs(account)}


# -- marketing emails -------------------------------------------------------------------------
# `GET /marketing/v3/emails` (PublicApiSpecs/Marketing/Marketing Emails/Rollouts/145892/v3/
# marketingEmails.json; the official client's `hubspot.marketing.emails` PublicEmail):
# `after`, `limit` (default 100), `createdAfter`/`updatedAfter` (strictly after, ISO-8601),
# `archived` (archived emails instead of live ones); CollectionResponseWithTotalPublicEmail
# (`results`, `total`, `paging.next.after`), ordered by createdAt (the default `sort`).
# Scope `content`; PublicEmail requires id, name, subject, state, subcategory,
# sendOnPublish, content, from, to.
EMAILS_SCOPE = "content"
EMAILS_LIMIT_DEFAULT, EMAILS_LIMIT_MAX = 100, 100
BASE_EMAILS = ("January newsletter", "Product launch", "Webinar invite", "Win-back offer")
EMAIL_ID_BASE = 170_000_000_000
EMAIL_ARCHIVE_STEP, ARCHIVED_EMAIL = 4, 2


@dataclass
class EmailDef:
    k: int
    name: str
    created_step: int = 0
    updated_step: int = 0
    archived_step: int | None = None
    revision: int = 0


def email_defs(account: Account) -> list[EmailDef]:
    """Every marketing email as of the account's current step: one edited every step,
    one made every second step, one archived at step 4."""
    out = [EmailDef(k, name) for k, name in enumerate(BASE_EMAILS)]
    for step in range(1, account.step_count + 1):
        live = [e for e in out if e.archived_step is None]
        edited = live[mix2(account.spec.seed, 800 + step) % len(live)]
        edited.updated_step, edited.revision = step, edited.revision + 1
        if step % 2 == 0:
            out.append(EmailDef(len(out), f"Follow-up {step}", created_step=step,
                                updated_step=step))
        if step == EMAIL_ARCHIVE_STEP:
            gone = out[ARCHIVED_EMAIL]
            gone.archived_step, gone.updated_step = step, step
    return out


def email_json(account: Account, e: EmailDef) -> dict:
    created = step_time(account, e.created_step) - (0 if e.created_step else
                                                     (len(BASE_EMAILS) - e.k) * 86_400_000)
    updated = max(created, step_time(account, e.updated_step))
    subject = e.name if not e.revision else f"{e.name} (rev {e.revision})"
    return {
        "id": str(EMAIL_ID_BASE + e.k), "name": e.name, "subject": subject,
        "state": "PUBLISHED" if e.created_step == 0 else "DRAFT",
        "isPublished": e.created_step == 0, "subcategory": "batch", "type": "BATCH_EMAIL",
        "sendOnPublish": True, "language": "en", "archived": e.archived_step is not None,
        "createdAt": iso_ms(created), "updatedAt": iso_ms(updated), "createdById": CREATOR_ID,
        "updatedById": CREATOR_ID,
        "content": {"templatePath": "@hubspot/email/dnd/welcome.html", "plainTextVersion":
                    f"{subject}\n\nHello {{{{contact.firstname}}}}"},
        "from": {"fromName": "Sandbox Marketing", "replyTo": "marketing@sandbox.example"},
        "to": {"contactLists": {"include": ["1"], "exclude": []},
               "suppressGraymail": True, "limitSendFrequency": False},
    }


def list_emails(req: Request) -> tuple[int, dict]:
    """`GET /marketing/v3/emails`: live (or archived) emails, optionally updated after a
    time, by createdAt, paged."""
    if "marketing_emails" in req.account.spec.denied_types:
        raise missing_scope(EMAILS_SCOPE)
    start, limit = _window(req, "e", EMAILS_LIMIT_DEFAULT, EMAILS_LIMIT_MAX)
    archived = (req.one("archived") or "false").strip().lower() == "true"
    after_ms = None
    if req.one("updatedAfter"):
        after_ms = parse_time(req.one("updatedAfter"))
        if after_ms is None:
            raise bad_request(f"Invalid updatedAfter: {req.one('updatedAfter')!r}")
    with req.account.lock:
        rows = [email_json(req.account, e) for e in email_defs(req.account)
                if (e.archived_step is not None) == archived]
    if after_ms is not None:
        rows = [r for r in rows if parse_time(r["updatedAt"]) > after_ms]
    rows.sort(key=lambda r: (r["createdAt"], r["id"]))
    return 200, _page(rows, start, limit, "e", total=True)


def truth_emails(account: Account) -> dict[str, dict]:
    """Every marketing email, live and archived, by id."""
    with account.lock:
        return {str(EMAIL_ID_BASE + e.k): email_json(account, e) for e in email_defs(account)}


# -- campaigns -------------------------------------------------------------------------------
# `GET /marketing/v3/campaigns/` (PublicApiSpecs/Marketing/Campaigns Public Api/Rollouts/
# 177944/v3/campaignsPublicApi.json): `after`, `limit`, `properties` (repeated; without it
# every campaign's `properties` map is empty, and names a campaign has no value for are
# left out); CollectionResponseWithTotalPublicCampaignForwardPaging of PublicCampaign
# (`id` a UUID, `properties` of strings, `createdAt`, `updatedAt`, `businessUnits`).
# Scope `marketing.campaigns.read`; Marketing Hub PROFESSIONAL (a token without the scope,
# or a lower tier: `denied_types={"campaigns"}`, answered 403). The spec gives no maximum
# `limit`: the sandbox serves at most 100 a page.
CAMPAIGNS_SCOPE = "marketing.campaigns.read"
CAMPAIGNS_LIMIT_DEFAULT, CAMPAIGNS_LIMIT_MAX = 50, 100
BASE_CAMPAIGNS = ("Spring launch", "Summer sale", "Partner program")
CAMPAIGN_DELETE_STEP, DELETED_CAMPAIGN = 2, 1


def campaign_defs(account: Account) -> list[dict]:
    """Every campaign as of the account's current step: renamed on odd steps, one made
    on every third, one deleted at step 2 (deleted campaigns are gone from the listing)."""
    out = [{"k": k, "name": n, "created": 0, "updated": 0, "status": "active"}
           for k, n in enumerate(BASE_CAMPAIGNS)]
    for step in range(1, account.step_count + 1):
        if step % 2:
            c = out[0]
            c["name"], c["updated"] = f"{BASE_CAMPAIGNS[0]} {step}", step
        if step % 3 == 0:
            out.append({"k": len(out), "name": f"Campaign {step}", "created": step,
                        "updated": step, "status": "planned"})
        if step == CAMPAIGN_DELETE_STEP:
            out[DELETED_CAMPAIGN]["deleted"] = step
    return [c for c in out if "deleted" not in c]


def campaign_json(account: Account, c: dict, names: list[str]) -> dict:
    created = step_time(account, c["created"]) - (0 if c["created"] else
                                                  (len(BASE_CAMPAIGNS) - c["k"]) * 86_400_000)
    values = {"hs_name": c["name"], "hs_start_date": "2023-03-01", "hs_end_date": "2023-12-31",
              "hs_currency_code": "USD", "hs_campaign_status": c["status"],
              "hs_audience": "Marketing leads", "hs_owner": "80000001",
              "hs_color_hex": "#ff7a59", "hs_budget_items_sum_amount": str(1000 * (c["k"] + 1)),
              "hs_spend_items_sum_amount": str(250 * c["k"])}
    return {"id": _guid(account.spec.seed, 400 + c["k"]),
            "properties": {n: values[n] for n in names if n in values},
            "createdAt": iso_ms(created),
            "updatedAt": iso_ms(max(created, step_time(account, c["updated"]))),
            "businessUnits": [{"id": 0}]}


def list_campaigns(req: Request) -> tuple[int, dict]:
    """`GET /marketing/v3/campaigns/`: every campaign with the asked-for properties, paged."""
    if "campaigns" in req.account.spec.denied_types:
        raise missing_scope(CAMPAIGNS_SCOPE)
    start, limit = _window(req, "c", CAMPAIGNS_LIMIT_DEFAULT, CAMPAIGNS_LIMIT_MAX)
    names = req.many("properties") or []
    with req.account.lock:
        rows = [campaign_json(req.account, c, names) for c in campaign_defs(req.account)]
    return 200, _page(rows, start, limit, "c", total=True)


def truth_campaigns(account: Account, names: list[str]) -> dict[str, dict]:
    """Every campaign by id, with the named properties."""
    with account.lock:
        return {r["id"]: r for r in (campaign_json(account, c, names)
                                     for c in campaign_defs(account))}


# -- marketing email events ------------------------------------------------------------------
# Only HubSpot's legacy Email Events API exists (`GET /email/public/v1/events`, no OpenAPI
# file in the spec collection; HubSpot's legacy reference): `startTimestamp`/`endTimestamp`
# (epoch ms, inclusive), `eventType`, `limit` (at most 1000), `offset`; answers
# `{"events", "hasMore", "offset"}`, newest first. Each event: `id`, `type` (SENT,
# DELIVERED, OPEN, CLICK, BOUNCE, ...), `created` (ms), `recipient`, `emailCampaignId`,
# `portalId`, `appId`, `appName`, `sentBy` {id, created}, plus the type's own fields.
# Scope `content`.
EMAIL_EVENTS_LIMIT_DEFAULT, EMAIL_EVENTS_LIMIT_MAX = 100, 1000
RECIPIENTS = 20
STEP_EVENTS = (("OPEN", 3), ("CLICK", 1))


def _event(account: Account, email_k: int, n: int, etype: str, at: int, sent_at: int) -> dict:
    h = mix2(mix2(account.spec.seed, 1_100 + email_k), n)
    recipient = f"visitor{h % RECIPIENTS}@sandbox.example"
    event = {"id": f"{h:016x}-{email_k}-{n}", "type": etype, "created": at,
             "recipient": recipient, "emailCampaignId": 5_000 + email_k,
             "portalId": account.portal_id, "appId": 113, "appName": "BatchTest",
             "sentBy": {"id": f"{mix2(h, 1):016x}", "created": sent_at}}
    if etype == "DELIVERED":
        event["response"], event["attempt"] = "250 OK", 1
    elif etype == "BOUNCE":
        event["category"], event["status"] = "MAILBOX_FULL", "5.2.2"
    elif etype in ("OPEN", "CLICK"):
        event["browser"] = {"name": "Firefox", "family": "Firefox"}
        if etype == "CLICK":
            event["url"] = f"https://www.sandbox.example/offer/{email_k}"
    return event


def email_events(account: Account) -> list[dict]:
    """Every email event, newest first: each base email's send (SENT, DELIVERED or BOUNCE
    per recipient, some OPENs and CLICKs), then a few OPENs and a CLICK per step."""
    out = []
    for k in range(len(BASE_EMAILS)):
        sent = BASE_MS + k * 86_400_000
        n = 0
        for r in range(RECIPIENTS):
            out.append(_event(account, k, n, "SENT", sent + r, sent))
            out.append(_event(account, k, n + 1, "BOUNCE" if r % 10 == 9 else "DELIVERED",
                              sent + 1_000 + r, sent))
            n += 2
            if r % 2 == 0:
                out.append(_event(account, k, n, "OPEN", sent + 3_600_000 + r, sent))
                n += 1
            if r % 5 == 0:
                out.append(_event(account, k, n, "CLICK", sent + 3_700_000 + r, sent))
                n += 1
        for step in range(1, account.step_count + 1):
            at = step_time(account, step)
            for j, (etype, count) in enumerate(STEP_EVENTS):
                for c in range(count):
                    out.append(_event(account, k, 10_000 * step + 10 * j + c, etype,
                                      at - 10 * k - 3 * j - c, sent))
    out.sort(key=lambda e: (-e["created"], e["id"]))
    return out


def list_email_events(req: Request) -> tuple[int, dict]:
    """`GET /email/public/v1/events`: events in a time window, newest first, by offset."""
    if "email_events" in req.account.spec.denied_types:
        raise missing_scope(EMAILS_SCOPE)
    limit = min(max(req.int_param("limit", EMAIL_EVENTS_LIMIT_DEFAULT), 1),
                EMAIL_EVENTS_LIMIT_MAX)
    start = req.int_param("startTimestamp", 0)
    end = req.int_param("endTimestamp", 2 ** 62)
    etype = req.one("eventType")
    position = 0
    if req.one("offset"):
        position = decode_cursor("v", req.one("offset"))
        if position is None:
            raise bad_request(f"Invalid offset: {req.one('offset')}")
    with req.account.lock:
        rows = [e for e in email_events(req.account) if start <= e["created"] <= end
                and (etype is None or e["type"] == etype)]
    page = rows[position:position + limit]
    more = position + limit < len(rows)
    return 200, {"events": page, "hasMore": more,
                 "offset": encode_cursor("v", position + limit) if more else ""}


def truth_email_events(account: Account) -> dict[str, dict]:
    """Every email event by id."""
    with account.lock:
        return {e["id"]: e for e in email_events(account)}
