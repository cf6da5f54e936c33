"""The command line and the subprocess helper."""

from __future__ import annotations

import subprocess
import sys

import requests

from hubspot_assets_tests.sandbox import SandboxProcess


def test_help_lists_the_knobs():
    out = subprocess.run([sys.executable, "-m", "hubspot_assets_tests.sandbox", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for option in ("--port", "--host", "--seed", "--size", "--account", "--ten-second-limit",
                   "--window", "--latency-ms", "--fault-rate", "--fault-kinds"):
        assert option in out.stdout


def test_process_serves_two_accounts_and_stops():
    proc = SandboxProcess(["--account", "111:tok-a", "--account", "222:tok-b", "--size", "contacts=1_000",
                           "--deny", "deals", "--window", "2"])
    url = proc.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        a = requests.get(url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer tok-a"}, timeout=10)
        b = requests.get(url + "/crm/v3/objects/contacts", headers={"Authorization": "Bearer tok-b"}, timeout=10)
        assert a.status_code == b.status_code == 200
        assert a.json() != b.json()  # each account has its own seed
        assert a.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "2000"
        denied = requests.get(url + "/crm/v3/objects/deals", headers={"Authorization": "Bearer tok-b"}, timeout=10)
        assert denied.status_code == 403
        t = requests.get(url + "/_sandbox/truth/222?checksums=false", timeout=10).json()
        assert t["objects"]["contacts"]["live"] + t["objects"]["contacts"]["archived"] == 1000
    finally:
        proc.stop()
    assert proc.proc.returncode == 0


def test_json_config_file(tmp_path):
    import json
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({
        "settings": {"ten_second_limit": 7, "window_seconds": 3},
        "accounts": [{"portal_id": 5, "token": "tok-5", "sizes": {"contacts": 12}, "denied_types": ["deals"]}]}))
    with SandboxProcess(["--config", str(path)]) as proc:
        r = requests.get(proc.url + "/crm/v3/objects/contacts", params={"limit": 100},
                         headers={"Authorization": "Bearer tok-5"}, timeout=10)
        assert r.headers["X-HubSpot-RateLimit-Max"] == "7"
        assert len(r.json()["results"]) < 12
        assert requests.get(proc.url + "/crm/v3/objects/deals", headers={"Authorization": "Bearer tok-5"},
                            timeout=10).status_code == 403
