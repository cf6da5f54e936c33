"""The standard type catalogue: HubSpot's URL names (checked against its OpenAPI files)."""

from hubspot_assets.hubspot import catalog
from hubspot_assets_tests.sandbox.catalog import STANDARD_OBJECT_TYPES as SANDBOX_TYPES


def test_names_are_the_ones_hubspot_urls_take():
    # HubSpot-public-api-spec-collection: Goal Targets v3 serves /crm/v3/objects/goal_targets,
    # Commerce Payments v3 /crm/v3/objects/commerce_payments; `goals` and `payments` 404.
    assert catalog.BY_NAME["goal_targets"].object_type_id == "0-74"
    assert catalog.BY_NAME["commerce_payments"].object_type_id == "0-101"
    assert "goals" not in catalog.BY_NAME and "payments" not in catalog.BY_NAME


def test_product_and_sandbox_share_one_catalogue():
    assert {t.name: t.object_type_id for t in catalog.STANDARD_OBJECT_TYPES} == SANDBOX_TYPES
    assert len(catalog.BY_ID) == len(catalog.STANDARD_OBJECT_TYPES)  # ids are unique


def test_pipeline_types():
    assert [t.name for t in catalog.STANDARD_OBJECT_TYPES if t.has_pipelines] == [
        "deals", "tickets", "leads", "orders"]


def test_sensitive_data_types():
    assert [t.name for t in catalog.STANDARD_OBJECT_TYPES if t.sensitive_data] == [
        "contacts", "companies", "deals", "tickets"]
    assert catalog.may_hold_sensitive_data("p123_pets", custom=True)
    assert not catalog.may_hold_sensitive_data("notes", custom=False)
