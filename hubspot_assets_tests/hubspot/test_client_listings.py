"""Never silently short: every listing of the client against a hostile stub.

Each listing (objects, archived chunked merges, search windows, events, v4
associations, the two-ended read) either returns every record or fails with a
typed error naming the endpoint and the reason, within a few seconds.
"""

from __future__ import annotations

import time

import pytest

from hubspot_assets.hubspot import paging
from hubspot_assets.hubspot.errors import ListingDidNotEnd, MalformedResponse

from .stub_server import Reply

BOUND = 5.0  # seconds any of these listings may take, failing or not
STALLED = 5  # max_stalled_pages in these tests


@pytest.fixture(autouse=True)
def _no_resume_pause(monkeypatch):
    monkeypatch.setattr(paging, "CURSOR_RESUME_PAUSE", 0.0)


@pytest.fixture
def client_for(stub, make_client):
    """A client on a stub answering `body_for(call, cursor)` (a body or a Reply)."""
    def make(body_for, **overrides):
        def handler(call):
            cursor = (call.query.get("after") or [None])[0]
            if isinstance(call.body, dict) and "after" in call.body:
                cursor = call.body["after"]
            reply = body_for(call, cursor)
            return reply if isinstance(reply, Reply) else Reply(200, reply)
        server = stub(handler)
        settings = dict(max_attempts=2, max_stalled_pages=STALLED, two_ended_after_pages=0)
        settings.update(overrides)
        return make_client(server.url, **settings), server
    return make


def _rec(i) -> dict:
    return {"id": str(i), "properties": {"name": f"n{i}", "hs_object_id": str(i)},
            "updatedAt": "2026-01-01T00:00:00Z", "archived": False}


def _event(i) -> dict:
    return {"id": f"ev-{i}", "eventType": "e_visited_page", "objectType": "contact",
            "objectId": "1", "occurredAt": "2026-01-01T00:00:00Z", "properties": {}}


def _page(records, after=None) -> dict:
    body: dict = {"results": list(records)}
    if after is not None:
        body["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
    return body


def _objects(client):
    return client.iter_objects("contacts", ["name"])


def _events(client):
    return client.iter_events("e_visited_page")


LISTINGS = {"objects": (_objects, _rec), "events": (_events, _event)}


def _drain(listing):
    """Every item of `listing` until it ends or raises: (items, error, seconds)."""
    items, error, started = [], None, time.monotonic()
    try:
        for item in listing:
            items.append(item)
    except (MalformedResponse, ListingDidNotEnd) as exc:
        error = exc
    return items, error, time.monotonic() - started


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_a_sound_listing_is_complete_even_with_one_empty_page(client_for, kind):
    listing, make = LISTINGS[kind]
    pages = {None: _page([make(1), make(2)], "a"), "a": _page([], "b"), "b": _page([make(3)])}
    client, _ = client_for(lambda call, cursor: pages[cursor])
    items, error, seconds = _drain(listing(client))
    assert error is None and [r["id"] for r in items] == [make(i)["id"] for i in (1, 2, 3)]
    assert seconds < BOUND


HOSTILE_SECOND_PAGES = {
    "no results": {"paging": {"next": {"after": "c"}}},
    "results not a list": {"results": {"id": "3"}},
    "results null": {"results": None},
    "paging.next without after": {"results": [], "paging": {"next": {"link": "?after=x"}}},
    "empty after": {"results": [], "paging": {"next": {"after": ""}}},
    "after not a string": {"results": [], "paging": {"next": {"after": 7}}},
    "paging.next not an object": {"results": [], "paging": {"next": "c"}},
    "a record without an id": {"results": [{"properties": {}}]},
    "not an object": [],
}


@pytest.mark.parametrize("kind", sorted(LISTINGS))
@pytest.mark.parametrize("shape", sorted(HOSTILE_SECOND_PAGES))
def test_a_malformed_page_fails_the_listing_after_its_retries(client_for, kind, shape):
    listing, make = LISTINGS[kind]
    client, server = client_for(lambda call, cursor: _page([make(1)], "a") if cursor is None
                                else HOSTILE_SECOND_PAGES[shape])
    items, error, seconds = _drain(listing(client))
    assert isinstance(error, MalformedResponse), error
    assert "wrong shape" in error.problem and error.endpoint and error.attempts == 2
    assert [r["id"] for r in items] == [make(1)["id"]]  # nothing after page 1 looked complete
    # The bad page is retried by the transport (2 attempts) in each cursor-resume round.
    assert len(server.calls) == 1 + 2 * (paging.CURSOR_RESUME_ROUNDS + 1)
    assert seconds < BOUND


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_a_repeated_cursor_fails_the_listing(client_for, kind):
    listing, make = LISTINGS[kind]
    client, _ = client_for(lambda call, cursor: _page([make(1)], "a") if cursor is None
                           else _page([make(2)], "a"))
    items, error, seconds = _drain(listing(client))
    assert isinstance(error, ListingDidNotEnd) and "twice" in str(error)
    assert error.endpoint.startswith("GET /") and not error.retryable
    assert seconds < BOUND


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_endless_empty_pages_with_new_cursors_fail_the_listing(client_for, kind):
    listing, _ = LISTINGS[kind]
    client, server = client_for(lambda call, cursor: _page([], f"c{len(server.calls)}"))
    items, error, seconds = _drain(listing(client))
    assert isinstance(error, ListingDidNotEnd) and "no new record" in str(error)
    assert items == [] and len(server.calls) == STALLED
    assert seconds < BOUND


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_the_same_records_again_and_again_fail_the_listing(client_for, kind):
    listing, make = LISTINGS[kind]
    client, server = client_for(lambda call, cursor: _page([make(1), make(2)],
                                                           f"c{len(server.calls)}"))
    items, error, seconds = _drain(listing(client))
    assert isinstance(error, ListingDidNotEnd) and "no new record" in str(error)
    assert len(server.calls) == STALLED + 1  # the first page's records were new
    assert seconds < BOUND


def test_a_listing_past_the_page_bound_fails(client_for):
    client, server = client_for(lambda call, cursor: _page([_rec(len(server.calls))],
                                                           f"c{len(server.calls)}"),
                                max_listing_pages=30)
    items, error, seconds = _drain(_objects(client))
    assert isinstance(error, ListingDidNotEnd) and "max_listing_pages=30" in str(error)
    assert len(items) == 29 and len(server.calls) == 30
    assert seconds < BOUND


def test_archived_chunked_merge_fails_when_one_chunk_never_ends(client_for):
    names = [f"a_rather_long_property_name_number_{i:03d}" for i in range(20)]

    def body_for(call, cursor):
        chunk = call.query["properties"][0].split(",")
        if cursor is None:
            return _page([{**_rec(1), "archived": True}, {**_rec(2), "archived": True}], "a")
        if chunk[0] == names[0]:  # the lead chunk ends normally
            return _page([{**_rec(3), "archived": True}])
        return _page([], f"c{cursor}")  # a later chunk: empty pages, new cursors, forever

    client, server = client_for(body_for, max_url_length=512)
    listing = client.iter_objects("contacts", names, archived=True)
    items, error, seconds = _drain(listing)
    assert len({tuple(c.query["properties"]) for c in server.calls}) > 1  # it was chunked
    assert isinstance(error, ListingDidNotEnd) and "no new record" in str(error)
    assert seconds < BOUND


# -- search windows -----------------------------------------------------------
def _search(client):
    return client.search_modified("contacts", since=0, properties=["name"])


def test_search_with_endless_empty_pages_fails(client_for):
    client, server = client_for(lambda call, cursor: _page([], str(len(server.calls) * 200)))
    items, error, seconds = _drain(_search(client))
    assert isinstance(error, ListingDidNotEnd) and "/search" in error.endpoint
    assert len(server.calls) == STALLED and seconds < BOUND


def test_search_page_without_results_is_malformed(client_for):
    client, _ = client_for(lambda call, cursor: {"total": 3})
    items, error, seconds = _drain(_search(client))
    assert isinstance(error, MalformedResponse) and "no 'results'" in error.problem
    assert items == [] and seconds < BOUND


def test_search_ignoring_its_window_filter_fails_instead_of_looping(client_for):
    # Every query answers the same capped set of one timestamp: the tie-break
    # restart would never pass its last id.
    stamp = {"hs_lastmodifieddate": "1700000000000"}

    def body_for(call, cursor):
        start = int(cursor or 0)
        records = [{**_rec(i), "properties": {**_rec(i)["properties"], **stamp}}
                   for i in range(start + 1, start + 3)]
        return _page(records, str(start + 2))  # always more: every query hits the cap

    client, server = client_for(body_for, search_result_cap=4, search_page_size=2)
    items, error, seconds = _drain(_search(client))
    assert isinstance(error, ListingDidNotEnd) and "tie-break" in str(error)
    assert [r["id"] for r in items] == ["1", "2", "3", "4"]  # each once, then the failure
    assert seconds < BOUND


# -- v4 associations ----------------------------------------------------------
def _assoc_result(from_id, to_ids, after=None) -> dict:
    result = {"from": {"id": str(from_id)},
              "to": [{"toObjectId": t, "associationTypes": []} for t in to_ids]}
    if after is not None:
        result["paging"] = {"next": {"after": after}}
    return result


def _assoc_client(client_for, result_for, **overrides):
    """Each input answered by `result_for(input, call_number)` (None: left out)."""
    def body_for(call, cursor):
        results = [r for i in call.body["inputs"]
                   if (r := result_for(i, len(server.calls))) is not None]
        return {"status": "COMPLETE", "results": results}
    client, server = client_for(body_for, **overrides)
    return client, server


def _assocs(client, ids=("1",)):
    return client.iter_associations("contacts", "companies", list(ids))


def test_associations_paged_per_id_are_complete(client_for):
    def result_for(item, n):
        if item.get("after") is None:
            return _assoc_result(item["id"], [10, 11], "p2")
        return _assoc_result(item["id"], [12])
    client, _ = _assoc_client(client_for, result_for)
    items, error, seconds = _drain(_assocs(client, ["1", "2"]))
    assert error is None and sorted((f, e["toObjectId"]) for f, e in items) == [
        ("1", 10), ("1", 11), ("1", 12), ("2", 10), ("2", 11), ("2", 12)]


def test_an_association_cursor_that_repeats_fails(client_for):
    client, _ = _assoc_client(client_for, lambda item, n: _assoc_result(item["id"], [n], "same"))
    items, error, seconds = _drain(_assocs(client))
    assert isinstance(error, ListingDidNotEnd) and "twice" in str(error)
    assert "from id 1" in str(error) and seconds < BOUND


def test_endless_empty_association_pages_fail(client_for):
    client, server = _assoc_client(client_for,
                                   lambda item, n: _assoc_result(item["id"], [], f"c{n}"))
    items, error, seconds = _drain(_assocs(client))
    assert isinstance(error, ListingDidNotEnd) and "no new record" in str(error)
    assert len(server.calls) == STALLED and seconds < BOUND


@pytest.mark.parametrize("broken", [
    {"from": {"id": "1"}},                                 # no `to`
    {"from": {}, "to": []},                                # no from.id
    {"from": {"id": "1"}, "to": [{"associationTypes": []}]},  # an entry without toObjectId
    {"from": {"id": "1"}, "to": [], "paging": {"next": {}}},  # next without after
])
def test_a_malformed_association_result_fails(client_for, broken):
    client, _ = _assoc_client(client_for, lambda item, n: broken)
    items, error, seconds = _drain(_assocs(client))
    assert isinstance(error, MalformedResponse) and error.attempts == 2
    assert items == [] and seconds < BOUND


def test_an_id_sent_with_its_cursor_must_come_back(client_for):
    client, _ = _assoc_client(client_for, lambda item, n: (
        _assoc_result(item["id"], [10], "p2") if item.get("after") is None else None))
    items, error, seconds = _drain(_assocs(client))
    assert isinstance(error, MalformedResponse) and "sent with a cursor" in str(error)
    assert seconds < BOUND


# -- the two-ended read -------------------------------------------------------
def _two_ended_list(ids_per_page=10, last=60, repeat_at=None):
    def list_body(cursor):
        start = int(cursor or 0)
        ids = range(start + 1, min(start + ids_per_page, last) + 1)
        after = None if start + ids_per_page >= last else str(start + ids_per_page)
        if repeat_at is not None and start >= repeat_at:
            after = str(repeat_at)
        return _page([_rec(i) for i in ids], after)
    return list_body


def test_two_ended_list_side_with_a_repeated_cursor_fails(client_for):
    list_body = _two_ended_list(repeat_at=20)

    def body_for(call, cursor):
        if call.method == "POST":  # the search side: nothing, so the list side reads all
            return _page([])
        return list_body(cursor)

    client, _ = client_for(body_for, two_ended_after_pages=2)
    items, error, seconds = _drain(_objects(client))
    assert isinstance(error, ListingDidNotEnd) and "twice" in str(error)
    assert seconds < BOUND


def test_two_ended_search_side_ignoring_its_bound_stops_and_the_listing_completes(client_for):
    list_body = _two_ended_list()

    def body_for(call, cursor):
        if call.method == "POST":  # always the top page, whatever `hs_object_id < x` says
            return _page([_rec(i) for i in range(60, 50, -1)], "ignored")
        time.sleep(0.02)  # let the search side run into its bad second page
        return list_body(cursor)

    client, server = client_for(body_for, two_ended_after_pages=2)
    items, error, seconds = _drain(_objects(client))
    assert error is None
    assert sorted(int(r["id"]) for r in items) == list(range(1, 61))  # each id exactly once
    assert any(c.method == "POST" for c in server.calls)
    assert seconds < BOUND


def test_search_window_that_does_not_advance_fails_instead_of_looping(client_for):
    # The tie-break (EQ) query ends at once; every other query ignores its
    # `> last timestamp` filter and answers the same capped set again.
    stamp = {"hs_lastmodifieddate": "1700000000000"}

    def body_for(call, cursor):
        filters = [f for g in call.body["filterGroups"] for f in g["filters"]]
        if any(f["operator"] == "EQ" for f in filters):
            return _page([])
        start = int(cursor or 0)
        return _page([{**_rec(i), "properties": {**_rec(i)["properties"], **stamp}}
                      for i in range(start + 1, start + 3)], str(start + 2))

    client, _ = client_for(body_for, search_result_cap=4, search_page_size=2)
    items, error, seconds = _drain(_search(client))
    assert isinstance(error, ListingDidNotEnd) and "no progress" in str(error)
    assert seconds < BOUND
