"""The Dagster UI, as a user opens it: the asset graph of the `hubspot` group.

Headless Debian `chromium` renders the page served by the e2e stack's webserver;
the DOM must name every asset of the group and the code location (it loaded
and the lineage drew), and the screenshot must be a real rendering, not a
blank or error page.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

STAGES = ["custom_object_schemas", "object_download_list", "object_records", "event_types",
          "events", "relationships"]
WINDOW = (1600, 1000)


def chromium(url: str, *mode: str, budget_ms: int = 15_000,
             timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Runs headless chromium once against `url`; kills its whole process group on timeout."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--virtual-time-budget={budget_ms}",
                *mode, url]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"chromium did not finish within {timeout:.0f}s for {url}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def render_dom(url: str, expected: list[str]) -> str:
    """The page's DOM once every `expected` text is in it.

    The page fetches the graph over GraphQL after it loads; on a busy machine
    that can outlast chromium's time budget, so try again with a longer one.
    """
    for budget_ms in (15_000, 30_000, 60_000):
        dom = chromium(url, "--dump-dom", budget_ms=budget_ms)
        assert dom.returncode == 0, dom.stderr[-2000:]
        missing = [text for text in expected if text not in dom.stdout]
        if not missing:
            return dom.stdout
    pytest.fail(f"{missing} not on {url} after {budget_ms} ms of virtual time")


def test_asset_graph_shows_the_loaded_code_location(e2e_stack, e2e_artifacts):
    location = e2e_stack.settings.location.name
    assets = e2e_stack.graphql.group_asset_keys("hubspot")
    assert set(STAGES) <= set(assets)

    # The lineage page lists every asset by full name beside the graph (the
    # graph itself shortens long names to fit the window).
    lineage = render_dom(f"{e2e_stack.url}/asset-groups/hubspot", assets)
    assert "PythonError" not in lineage

    group_page = f"{e2e_stack.url}/locations/{location}/asset-groups/hubspot"
    header = render_dom(group_page, ["Asset Group in", location, "Lineage"])
    assert "Could not load" not in header

    screenshot = e2e_artifacts / "asset_graph.png"
    screenshot.unlink(missing_ok=True)
    shot = chromium(group_page, f"--screenshot={screenshot}", budget_ms=30_000)
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    assert png_size(screenshot) == WINDOW
    # A blank or error page compresses to a few kB; the graph with its nodes does not.
    assert screenshot.stat().st_size > 40_000, screenshot.stat().st_size
    print(f"screenshot: {screenshot}")
