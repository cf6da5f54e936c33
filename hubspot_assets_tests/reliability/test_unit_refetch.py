"""A unit that still fails after the client's retries (and cursor resumes) is fetched
again from the start; the records it yields twice are the same versions (stored once)."""

from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import BadRequest, ServerError


def pages(fail_times, error):
    """A unit's fetch: two records, then a failure on the cursor, `fail_times` times."""
    calls = []

    def fetch():
        calls.append(1)
        yield {"id": "1"}
        yield {"id": "2"}
        if len(calls) <= fail_times:
            raise error
        yield {"id": "3"}

    return fetch, calls


def test_a_retryable_unit_failure_is_fetched_again_and_recorded(monkeypatch):
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_RETRY_DELAY", 0)
    fetch, calls = pages(2, ServerError("cursor kept failing", status=503, attempts=4))
    report = StageReport("events", "acme")
    ids = [r["id"] for r in report.guarded("e_visit", fetch)]
    assert len(calls) == 3 and ids == ["1", "2", "1", "2", "1", "2", "3"]
    metadata = report.metadata()
    assert (metadata["errors"], metadata["units_retried"], metadata["units_failed"]) == (2, 2, 0)
    assert all(d["retried"] and d["status"] == 503 for d in metadata["error_details"])


def test_a_request_error_is_not_fetched_again(monkeypatch):
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_RETRY_DELAY", 0)
    fetch, calls = pages(5, BadRequest("bad property", status=400))
    report = StageReport("events", "acme")
    assert [r["id"] for r in report.guarded("e_visit", fetch)] == ["1", "2"]
    assert len(calls) == 1 and report.metadata()["units_failed"] == 1
