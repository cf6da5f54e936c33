"""Injected faults: each kind's wrong answer, determinism, and no harm to state."""

from __future__ import annotations

import json

import pytest
import requests

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID

from .helpers import Http

PATH = "/crm/v3/objects/contacts"


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 50}, ten_second_limit=10_000, slow_ms=400)


def _faulty(sb, kind):
    sb.update_settings(fault_rate=1.0, fault_kinds=(kind,))


@pytest.mark.parametrize("kind,status", [("500", 500), ("502", 502), ("503", 503)])
def test_5xx_bodies(sb, kind, status):
    _faulty(sb, kind)
    r = Http(sb).get(PATH)
    assert r.status_code == status
    assert r.json()["status"] == "error" and r.json()["correlationId"]


def test_429_without_headers(sb):
    _faulty(sb, "429")
    r = Http(sb).get(PATH)
    assert r.status_code == 429 and r.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]


def test_html_and_non_json(sb):
    _faulty(sb, "html")
    r = Http(sb).get(PATH)
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    _faulty(sb, "nonjson")
    r = Http(sb).get(PATH)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


def test_drop_truncate_and_slow(sb):
    http = Http(sb)
    _faulty(sb, "drop")
    with pytest.raises(requests.ConnectionError):
        http.get(PATH)
    _faulty(sb, "truncate")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(PATH, {"limit": 100})
    _faulty(sb, "slow")
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.session.get(sb.url + PATH, timeout=0.1)
    import time
    time.sleep(0.5)  # the slow answer is counted once it has been sent
    stats = sb.stats()["faults"]
    assert stats["drop"] == 1 and stats["truncate"] == 1 and stats["slow"] == 1


def test_faults_are_deterministic_and_harmless(sandbox_factory):
    def run():
        sb = sandbox_factory(sizes={"contacts": 50}, ten_second_limit=10_000, fault_rate=0.4,
                             fault_kinds=("500", "503", "429", "nonjson"), fault_seed=7)
        http = Http(sb)
        seq = [http.get(PATH, {"limit": 5}).status_code for _ in range(30)]
        return sb, seq

    sb1, seq1 = run()
    _, seq2 = run()
    assert seq1 == seq2 and len(set(seq1)) > 1
    assert seq1.count(200) < 30
    truth_before = sb1.truth(DEMO_PORTAL_ID)
    sb1.update_settings(fault_rate=0.0)
    http = Http(sb1)
    assert all(http.get(PATH).status_code == 200 for _ in range(5))
    assert sb1.truth(DEMO_PORTAL_ID) == truth_before


def test_latency(sandbox_factory):
    import time
    sb = sandbox_factory(latency_ms=80, jitter_ms=20)
    http = Http(sb)
    http.get(PATH)
    t = time.perf_counter()
    http.get(PATH)
    assert 0.08 <= time.perf_counter() - t < 1.0
