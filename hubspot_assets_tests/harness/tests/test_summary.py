"""The headless summary's lines: skipped units apart from errors, with HubSpot's reason."""

from __future__ import annotations

from hubspot_assets_tests.harness.summary import StageRow, format_table, problems, skipped_units


def _rows() -> list[StageRow]:
    records = StageRow("object_records", status="ok", mode="incremental", rows=12, new=3,
                       error_details=[
                           {"unit": "quotes", "skipped": True, "scope": "crm.objects.quotes.read",
                            "message": "403 MISSING_SCOPES: This app hasn't been granted all "
                                       "required scopes"},
                           {"unit": "deals", "message": "500 after 3 fetches"},
                       ])
    events = StageRow("events", status="FAILED", failure="daily budget spent",
                      error_details=[{"unit": "events", "skipped": True,
                                      "message": "403: events API not in this account's tier"}])
    return [records, events]


def test_skipped_units_list_reason_and_scope():
    assert skipped_units(_rows()) == [
        "object_records: quotes: 403 MISSING_SCOPES: This app hasn't been granted all required "
        "scopes (scope to add: crm.objects.quotes.read)",
        "events: events: 403: events API not in this account's tier",
    ]


def test_problems_are_failures_and_errors_only():
    assert problems(_rows()) == [
        "object_records: error deals: 500 after 3 fetches",
        "events: FAILED: daily budget spent",
    ]


def test_table_shows_the_mode():
    table = format_table(_rows())
    line = next(line for line in table.splitlines() if line.startswith("object_records"))
    assert line.split()[:4] == ["object_records", "ok", "incremental", "12"]
