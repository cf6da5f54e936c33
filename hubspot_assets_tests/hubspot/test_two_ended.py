"""Two-ended reads: a list chain from the lowest id, a search chain from the highest."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import pytest

from hubspot_assets.hubspot import ClientConfig, HubSpotClient, RateBudget
from hubspot_assets.hubspot.errors import ServerError
from hubspot_assets.hubspot.two_ended import Frontier, TwoEndedRead
from hubspot_assets_tests.sandbox import truth

SEARCH = "POST /crm/v3/objects/{objectType}/search"
LIST = "GET /crm/v3/objects/{objectType}"
BATCH_READ = "POST /crm/v3/objects/{objectType}/batch/read"


class FakeType:
    """Ids served through a cursor listing and an id-bounded descending search,
    each call sleeping a random few milliseconds so the two sides interleave."""

    def __init__(self, ids, list_size=10, search_size=20, seed=0, shuffle_pages=False,
                 search_fails_after=None):
        self.ids = sorted(ids)
        self.list_size, self.search_size = list_size, search_size
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.calls = Counter()
        pages = [self.ids[i:i + list_size] for i in range(0, len(self.ids), list_size)]
        if shuffle_pages:
            self.rng.shuffle(pages)
        self.pages = pages
        self.search_fails_after = search_fails_after

    def _pause(self):
        with self.lock:
            delay = self.rng.uniform(0, 0.003)
        time.sleep(delay)

    def list_page(self, after):
        self.calls["list"] += 1
        self._pause()
        k = int(after or 0)
        page = {"results": [{"id": str(i)} for i in self.pages[k]]} if self.pages else {"results": []}
        if k + 1 < len(self.pages):
            page["paging"] = {"next": {"after": str(k + 1)}}
        return page

    def search_page(self, below):
        self.calls["search"] += 1
        if self.search_fails_after is not None and self.calls["search"] > self.search_fails_after:
            raise ServerError("search unavailable", status=503)
        self._pause()
        eligible = [i for i in reversed(self.ids) if below is None or i < below]
        return {"total": len(eligible),
                "results": [{"id": str(i)} for i in eligible[:self.search_size]]}


def read_all(fake: FakeType, after_pages=2, read=None) -> tuple[list[int], TwoEndedRead]:
    reader = TwoEndedRead("things", fake.list_page, fake.search_page, read,
                          search_after_pages=after_pages)
    return [int(r["id"]) for r in reader], reader


@pytest.mark.parametrize("seed", range(12))
def test_every_id_exactly_once_whatever_the_interleaving(seed):
    rng = random.Random(seed)
    ids = rng.sample(range(1, 50_000), rng.randint(30, 900))
    fake = FakeType(ids, list_size=rng.choice([7, 10, 25]), search_size=rng.choice([10, 20, 50]),
                    seed=seed)
    got, reader = read_all(fake, after_pages=rng.choice([1, 2, 3]))
    assert sorted(got) == sorted(ids) and len(got) == len(ids)
    taken = reader.frontier.taken
    assert taken["list"] + taken["search"] == len(ids)


def test_a_long_listing_is_shared_and_costs_fewer_calls():
    ids = list(range(1, 2001))
    fake = FakeType(ids, list_size=10, search_size=20)
    got, reader = read_all(fake)
    assert sorted(got) == ids
    assert reader.frontier.taken["search"] > 500  # the search side did a real share
    # Listing alone: 200 pages. Each search page stands for two list pages;
    # where they meet each side may read at most one page the other has.
    assert fake.calls["list"] + fake.calls["search"] < 200
    assert fake.calls["list"] + 2 * fake.calls["search"] <= 200 + 2 + 2


def test_a_short_listing_never_searches():
    fake = FakeType(range(1, 21), list_size=10)
    got, _ = read_all(fake, after_pages=2)
    assert sorted(got) == list(range(1, 21))
    assert fake.calls == Counter({"list": 2})


def test_zero_after_pages_turns_search_off():
    fake = FakeType(range(1, 301), list_size=10)
    got, _ = read_all(fake, after_pages=0)
    assert sorted(got) == list(range(1, 301)) and fake.calls["search"] == 0


def test_an_unordered_listing_is_read_to_the_end_without_losing_ids():
    ids = list(range(1, 1001))
    fake = FakeType(ids, list_size=10, search_size=20, shuffle_pages=True, seed=3)
    got, reader = read_all(fake, after_pages=1)
    assert sorted(got) == ids and len(got) == len(ids)
    assert not reader.frontier.ordered
    assert fake.calls["list"] == 100  # no early stop once order is in doubt


def test_a_failing_search_side_leaves_the_rest_to_the_listing(caplog):
    ids = list(range(1, 1001))
    fake = FakeType(ids, list_size=10, search_size=20, search_fails_after=3)
    got, reader = read_all(fake)
    assert sorted(got) == ids and len(got) == len(ids)
    assert 0 < reader.frontier.taken["search"] <= 60
    assert "search side stopped" in caplog.text


def test_pages_of_ids_are_read_in_full_by_the_read_function():
    ids = list(range(1, 801))
    fake = FakeType(ids, list_size=10, search_size=20)
    seen_batches = []

    def read(results):
        seen_batches.append(len(results))
        return [{"id": r["id"], "full": True} for r in results if int(r["id"]) % 97]  # 97s vanish

    reader = TwoEndedRead("things", fake.list_page, fake.search_page, read, search_after_pages=2)
    records = list(reader)
    assert sorted(int(r["id"]) for r in records) == [i for i in ids if i % 97]
    assert all(r["full"] for r in records)
    assert max(seen_batches) <= 20


def test_frontier_never_hands_an_id_to_both_sides():
    frontier = Frontier()
    assert [r["id"] for r in frontier.take_listed([{"id": "1"}, {"id": "2"}])] == ["1", "2"]
    assert [r["id"] for r in frontier.take_searched([{"id": "9"}, {"id": "8"}])] == ["9", "8"]
    # the list side reaches the search side's lowest id: it stops there
    assert [r["id"] for r in frontier.take_listed([{"id": "7"}, {"id": "8"}])] == ["7"]
    assert frontier.met
    # a late search page holding ids the list side took yields nothing
    assert frontier.take_searched([{"id": "7"}, {"id": "6"}]) == []


# -- against the sandbox --------------------------------------------------------------

def _client(url: str, tmp_path, **overrides) -> HubSpotClient:
    values = dict(token="sandbox-demo-token", base_url=url, limiter_backend="memory",
                  limiter_dir=str(tmp_path), max_in_flight=8,
                  budget=RateBudget(ten_second=10_000, daily=10_000_000, search_per_second=1_000))
    values.update(overrides)
    return HubSpotClient(ClientConfig(**values), limiter_key=f"two-{uuid.uuid4().hex[:8]}")


@pytest.mark.parametrize("max_url_length", [8000, 1500], ids=["pages-carry-properties",
                                                                "ids-then-batch-read"])
def test_sandbox_type_read_from_both_ends_matches_the_truth(sandbox_factory, tmp_path,
                                                            max_url_length):
    sb = sandbox_factory(sizes={"contacts": 3000, "companies": 5}, latency_ms=5, jitter_ms=3)
    with _client(sb.url, tmp_path, max_url_length=max_url_length) as client:
        records = list(client.iter_objects("contacts"))
        calls = {ep: sum(c.values()) for ep, c in client.stats.snapshot()["calls"].items()}
    account = sb.account(sb.config.accounts[0].portal_id)
    expected = list(truth.iter_records(account, "contacts", sensitive=False))
    assert sorted(records, key=lambda r: int(r["id"])) == expected
    live = len(expected)
    assert calls.get(SEARCH, 0) > 0
    # The list side alone would take ceil(live/100) pages; it took a share of them.
    assert calls[LIST] < -(-live // 100)
    if max_url_length == 1500:
        assert calls[BATCH_READ] <= -(-live // 100) + 2 * calls[SEARCH]
