"""Paging helpers without HTTP: URL chunks, cursors, search windows past the cap."""

import pytest

from hubspot_assets.hubspot.errors import ListingDidNotEnd, MalformedResponse
from hubspot_assets.hubspot.paging import (
    CURSOR_RESERVE,
    ListingGuard,
    ListingLimits,
    SearchWindows,
    check_page,
    chunk_properties,
    iter_pages,
    to_epoch_ms,
)


def test_chunks_keep_every_url_short_and_every_name():
    names = [f"hs_analytics_property_with_a_long_name_{i}" for i in range(700)]
    base = "http://127.0.0.1:1/crm/v3/objects/contacts?limit=100&archived=false&after="
    chunks = chunk_properties(names, base, 8000)
    assert [n for c in chunks for n in c] == names
    assert len(chunks) > 1
    for chunk in chunks:
        url = base + "&properties=" + "%2C".join(chunk)
        assert len(url) + CURSOR_RESERVE <= 8000


def test_one_chunk_when_names_fit():
    assert chunk_properties(["a", "b"], "http://x/y?", 8000) == [["a", "b"]]
    assert chunk_properties([], "http://x/y?", 8000) == [[]]


def test_repeated_cursor_is_an_error():
    pages = iter_pages(lambda after: {"results": [{"id": after or "1"}],
                                      "paging": {"next": {"after": "same"}}}, "t")
    next(pages)
    with pytest.raises(ListingDidNotEnd, match="twice"):
        next(pages)


def test_to_epoch_ms_forms():
    assert to_epoch_ms("2024-01-01T00:00:00.000Z") == 1704067200000
    assert to_epoch_ms("1704067200000") == 1704067200000
    assert to_epoch_ms(1704067200000) == 1704067200000


class FakeSearch:
    """HubSpot search semantics over (id, ts) pairs: filters, one sort, offset
    cursors, and a hard 400 past `cap`."""

    def __init__(self, records, cap):
        self.records = records
        self.cap = cap
        self.calls = 0

    def __call__(self, body):
        self.calls += 1
        rows = self.records
        for f in body["filterGroups"][0]["filters"] if body["filterGroups"] else []:
            by_ts = f["propertyName"] == "hs_lastmodifieddate"
            key = (lambda r: r[1]) if by_ts else (lambda r: r[0])
            value = int(f["value"])
            op = {"GTE": lambda a: a >= value, "GT": lambda a: a > value,
                  "LT": lambda a: a < value, "EQ": lambda a: a == value}[f["operator"]]
            rows = [r for r in rows if op(key(r))]
        by_ts = body["sorts"][0]["propertyName"] == "hs_lastmodifieddate"
        rows = sorted(rows, key=(lambda r: (r[1], r[0])) if by_ts else (lambda r: r[0]))
        offset = int(body.get("after") or 0)
        assert offset < self.cap, "paged past the cap"
        limit = min(body["limit"], self.cap - offset)
        page = rows[offset:offset + limit]
        out = {"total": len(rows), "results": [
            {"id": str(i), "properties": {"hs_lastmodifieddate": str(ts), "hs_object_id": str(i)}}
            for i, ts in page]}
        if offset + len(page) < len(rows):
            out["paging"] = {"next": {"after": str(offset + len(page))}}
        return out


@pytest.mark.parametrize("layout", ["spread", "one_timestamp", "mixed"])
def test_search_windows_return_every_record_once(layout):
    cap = 100
    if layout == "spread":
        records = [(i, 1000 + i // 3) for i in range(1, 451)]
    elif layout == "one_timestamp":
        records = [(i, 5000) for i in range(1, 351)]
    else:  # a bulk import bigger than the cap between ordinary records
        records = ([(i, 1000 + i) for i in range(1, 61)] + [(i, 4000) for i in range(61, 391)]
                   + [(i, 5000 + i) for i in range(391, 451)])
    fake = FakeSearch(records, cap)
    windows = SearchWindows(fake, modified_property="hs_lastmodifieddate",
                            properties=["hs_lastmodifieddate"], page_size=30, cap=cap)
    got = [int(r["id"]) for r in windows.iter(0, None)]
    assert sorted(got) == sorted(i for i, _ in records)
    assert len(got) == len(set(got))


def test_search_windows_respect_until():
    fake = FakeSearch([(i, i) for i in range(1, 101)], 1000)
    windows = SearchWindows(fake, modified_property="hs_lastmodifieddate", properties=[],
                            page_size=50, cap=1000)
    assert [int(r["id"]) for r in windows.iter(10, 20)] == list(range(10, 20))


def test_listing_guard_allows_a_few_empty_pages_between_new_records():
    guard = ListingGuard("t", ListingLimits(max_pages=100, max_stalled=3))
    for n in range(20):  # two empty pages, then a new record, and so on
        guard.page([str(n)] if n % 3 == 0 else [], f"c{n}")
    guard.page([], None)  # the last page may be empty
    assert guard.pages == 21


def test_listing_guard_fails_on_stalls_repeats_and_the_page_bound():
    stalled = ListingGuard("t", ListingLimits(max_pages=100, max_stalled=3))
    stalled.page(["1", "2"], "a")
    stalled.page(["2"], "b")
    stalled.page(["1"], "c")
    with pytest.raises(ListingDidNotEnd, match="3 pages in a row"):
        stalled.page([], "d")
    repeated = ListingGuard("t")
    repeated.page(["1"], "a")
    with pytest.raises(ListingDidNotEnd, match="twice"):
        repeated.page(["2"], "a")
    bounded = ListingGuard("t", ListingLimits(max_pages=3, max_stalled=3))
    bounded.page(["1"], "a")
    bounded.page(["2"], "b")
    with pytest.raises(ListingDidNotEnd, match="max_listing_pages=3"):
        bounded.page(["3"], "c")


@pytest.mark.parametrize("page", [
    {}, {"results": None}, {"results": {}}, {"results": [{"id": ""}]},
    {"results": [], "paging": {"next": {}}}, {"results": [], "paging": {"next": {"after": 1}}},
    {"results": [], "paging": "x"}, None, [],
])
def test_check_page_rejects_every_broken_shape(page):
    with pytest.raises(MalformedResponse):
        check_page(page, "t")


def test_check_page_accepts_a_last_page_and_a_next_cursor():
    check_page({"results": []}, "t")
    check_page({"results": [{"id": "1"}], "paging": {"next": {"after": "NTI1Cg%3D%3D"}}}, "t")
    check_page({"results": [], "paging": {"prev": {"before": "x"}}}, "t")
