"""Reference data through the whole pipeline: owners, pipelines, property definitions and
association label definitions, consolidated into their current-state collections, equal
the sandbox's ground truth after a full sync and after an incremental one that follows
`advance`; a token without a scope skips just that data, with HubSpot's reason; opted-in
property history reads back in order."""

import pymongo

from hubspot_assets.consolidate.reference import KINDS
from hubspot_assets.timestamps import to_epoch_ms
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN
from hubspot_assets_tests.sandbox import property_history
from hubspot_assets_tests.sandbox import reference_data as ref
from hubspot_assets_tests.sandbox import truth

SIZES = {"contacts": 40, "companies": 6, "deals": 8, "tickets": 4}
#: What the consolidation adds to HubSpot's fields.
OURS = {"_id", "source_id", "object_type", "group", "removed", "removed_at", "stream_id",
        "consolidated_run", "consolidated_at"}


def current(pipeline, name, source_id="demo"):
    """The active documents of a reference collection, as HubSpot's JSON, by key."""
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    return {d["_id"]: {k: v for k, v in d.items() if k not in OURS}
            for d in db[f"source_{source_id}_{name}"].find({"removed": False})}


def expected_owners(account):
    return {o["id"]: o for o in ref.truth_owners(account)}


def expected_properties(account):
    return {f"{t}|{p['name']}": p for t, found in ref.truth_properties(account).items()
            for p in found}


def expected_pipelines(account):
    return {f"{t}|{p['id']}": p for t, found in ref.truth_pipelines(account).items()
            for p in found}


def assert_reference_matches_truth(pipeline, server):
    account = server.account(DEMO_PORTAL_ID)
    assert current(pipeline, "owners") == expected_owners(account)
    assert current(pipeline, "pipelines") == expected_pipelines(account)
    assert current(pipeline, "properties") == expected_properties(account)
    assert current(pipeline, "association_labels") == ref.truth_association_labels(account)
    assert_edges_carry_both_directions(pipeline, account)


def assert_edges_carry_both_directions(pipeline, account):
    """Each active edge holds its types from both ends, as HubSpot reports each end."""
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    edges = list(db.source_demo_relationships.find({"removed": False}))
    assert edges
    seen: dict[tuple[str, str], dict] = {}
    for edge in edges:
        a, b = edge["from_type"], edge["to_type"]
        if (b, a) not in seen:
            seen[(b, a)] = {(str(f), str(t["toObjectId"])): t["associationTypes"]
                            for f, t in truth.iter_associations(account, b, a)}
        expected = seen[(b, a)][(edge["to_id"], edge["from_id"])]
        assert sorted(edge["reverse_association_types"], key=str) == sorted(expected, key=str)
        assert edge["reverse_labels"] == sorted({t["label"] for t in expected if t["label"]})


def test_full_then_incremental_sync_equal_the_truth(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    first = pipeline.sync("demo")
    assert first.success
    metadata = stage_metadata(first)
    assert metadata["object_records"]["owners"] == ref.INITIAL_OWNERS
    assert metadata["object_records"]["pipelines"] == 5
    assert_reference_matches_truth(pipeline, server)

    for _ in range(4):  # renames, hires, a deactivation, relabelled and new stages
        server.advance(DEMO_PORTAL_ID)
    second = pipeline.sync("demo")
    assert second.success
    assert_reference_matches_truth(pipeline, server)
    summary = stage_metadata(second)["consolidated_reference"]
    assert summary["owners"]["new"] == 2 and summary["owners"]["changed"] >= 1
    assert summary["pipelines"]["changed"] == 1  # only the renewals pipeline changed
    assert summary["properties"]["changed"] == 1  # hs_lead_status gained two options
    assert summary["association_labels"]["changed"] == 0
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    archived = db.source_demo_owners.count_documents({"archived": True, "removed": False})
    assert archived == ref.INITIAL_ARCHIVED + 1
    # Unchanged reference data is stored once: the stream holds one version per change.
    owner_versions = pipeline.stream("demo").count_documents({"kind": "owner"})
    assert owner_versions == ref.INITIAL_OWNERS + 2 + summary["owners"]["changed"]


def test_a_token_without_the_owners_scope_skips_only_the_owners(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES, denied_types={"owners", "tickets"})
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    result = pipeline.sync("demo")
    assert result.success
    records = stage_metadata(result)["object_records"]
    skipped = {d["unit"]: d["message"] for d in records["error_details"] if d.get("skipped")}
    assert ref.OWNERS_SCOPE in skipped["owners"]
    assert records["errors"] == 0
    assert current(pipeline, "owners") == {}
    # tickets are skipped by the download list, so their pipelines are never asked for
    assert set(current(pipeline, "pipelines")) == {
        k for k in expected_pipelines(server.account(DEMO_PORTAL_ID))}
    assert not any(k.startswith("tickets|") for k in current(pipeline, "pipelines"))
    reference = stage_metadata(result)["consolidated_reference"]
    assert reference["owners"]["groups"] == 0


def test_without_any_sensitive_scope_both_levels_are_skipped(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES, denied_types={"sensitive"})
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    result = pipeline.sync("demo")
    assert result.success
    listing = stage_metadata(result)["object_download_list"]
    skipped = {d["unit"]: d["message"] for d in listing["error_details"] if d.get("skipped")}
    assert skipped.keys() == {"contacts (sensitive properties): values",
                              "contacts (highly_sensitive properties): values",
                              "companies (sensitive properties): values"}
    assert "crm.objects.companies.sensitive.read" in skipped[
        "companies (sensitive properties): values"]
    for object_type in ("contacts", "companies"):
        record = pipeline.stream("demo").find_one({"kind": "object", "object_type": object_type})
        assert set(record["data"]["properties"]) == set(
            ref.readable_property_names(server.account(DEMO_PORTAL_ID), object_type))
    assert pipeline.stream("demo").count_documents({"kind": "object"}) > 0


def test_sensitive_values_are_copied_with_the_scope_and_skipped_without(
        pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    assert pipeline.sync("demo").success
    record = pipeline.stream("demo").find_one({"kind": "object", "object_type": "contacts"})
    assert {"passport_number", "national_id_number"} <= set(record["data"]["properties"])

    denied = sandbox_factory(sizes=SIZES, denied_types={"highly_sensitive"})
    pipeline.add_source("scoped", token=DEMO_TOKEN, base_url=denied.url)
    result = pipeline.sync("scoped")
    assert result.success
    listing = stage_metadata(result)["object_download_list"]
    skipped = {d["unit"]: d["message"] for d in listing["error_details"] if d.get("skipped")}
    assert list(skipped) == ["contacts (highly_sensitive properties): values"]
    assert "crm.objects.contacts.highly_sensitive.read" in skipped[list(skipped)[0]]
    assert listing["errors"] == 0
    record = pipeline.stream("scoped").find_one({"kind": "object", "object_type": "contacts"})
    names = set(record["data"]["properties"])
    assert "passport_number" in names and "national_id_number" not in names
    assert set(names) == set(ref.readable_property_names(denied.account(DEMO_PORTAL_ID),
                                                          "contacts"))
    # the definition itself needs no scope: it is listed and consolidated
    assert "contacts|national_id_number" in current(pipeline, "properties", "scoped")


def test_every_reference_kind_has_a_collection():
    assert [k.collection for k in KINDS] == ["owners", "pipelines", "properties",
                                             "association_labels"]


HISTORY = "    property_history: {contacts: all, deals: [dealstage, amount, no_such_property]}\n"


def stored_history(db, object_type, object_id):
    """{property: [(value, timestamp), ...] newest first} as the consolidation holds it."""
    out: dict[str, list] = {}
    for entry in db.source_demo_property_history.find(
            {"object_type": object_type, "object_id": object_id}).sort(
            [("property", 1), ("timestamp_ms", -1)]):
        out.setdefault(entry["property"], []).append((entry["value"], entry["timestamp"]))
    return out


def test_property_history_of_records_changed_by_advance_reads_back_in_order(
        pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url, extra=HISTORY)
    first = pipeline.sync("demo")
    assert first.success
    live = sum(server.account(DEMO_PORTAL_ID).stores[t].counts()[0] for t in ("contacts", "deals"))
    assert stage_metadata(first)["property_history"]["property_histories"] == live
    steps = [server.advance(DEMO_PORTAL_ID) for _ in range(3)]
    second = pipeline.sync("demo")
    assert second.success
    metadata = stage_metadata(second)["property_history"]
    assert metadata["errors"] == 0
    # incremental: only the records modified since the watermark (plus the overlap)
    assert metadata["property_histories"] < 40

    account = server.account(DEMO_PORTAL_ID)
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    changed = {i for step in steps for i in step["updated"]["contacts"]}
    assert changed
    names = list(ref.readable_property_names(account, "contacts"))
    for object_type, wanted in (("contacts", names), ("deals", ["dealstage", "amount"])):
        store = account.stores[object_type]
        for record in truth.iter_records(account, object_type):
            expected = property_history.truth_history(store, record["id"], wanted)
            expected = {k: [(e["value"], e["timestamp"]) for e in v]
                        for k, v in expected.items() if v}
            assert stored_history(db, object_type, record["id"]) == expected, record["id"]
    some = sorted(changed)[0]
    lastmods = stored_history(db, "contacts", some)["hs_lastmodifieddate"]
    assert len(lastmods) >= 2  # the seed value and the change(s) advance made
    # "What was this property's value on date D": the latest entry at or before D.
    (_, newest_at), (older_value, _) = lastmods[0], lastmods[1]
    just_before = to_epoch_ms(newest_at) - 1
    entry = db.source_demo_property_history.find_one(
        {"object_type": "contacts", "object_id": some, "property": "hs_lastmodifieddate",
         "timestamp_ms": {"$lte": just_before}}, sort=[("timestamp_ms", -1)])
    assert entry["value"] == older_value
