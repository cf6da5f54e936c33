"""The Dagster UI, as a user opens it: the asset graph of the `hubspot` group, and
what a sync shows (progress, skipped types, per-type numbers, automation).

Headless Debian `chromium` renders the page served by the e2e stack's webserver;
the DOM must name every asset of the group and the code location (it loaded
and the lineage drew), and the screenshot must be a real rendering, not a
blank or error page.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

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


# -- what a sync shows ----------------------------------------------------------------

#: The source whose token lacks a scope (fixtures/services.py: `scoped`, no deals).
SCOPED = "scoped"
#: Names the Automation page must list: the sync schedule (`defs/schedules.py`) and sensors.
AUTOMATIONS = ["hubspot_sync_schedule", "hubspot_sources_sensor", "job_history_on_success",
               "job_history_on_failure"]


def text_of(dom: str) -> str:
    """The page's visible text: no styles, scripts or tags, whitespace collapsed."""
    dom = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


@pytest.fixture(scope="module")
def scoped_run(e2e_stack) -> dict:
    """The newest run of the instance, a finished sync of `scoped`: the e2e backfills' one
    if no other run came after it, else one launched here.

    An asset's Overview and Checks tabs show its latest materialization and check
    evaluation whatever the partition, so these pages show `scoped` only after its run.
    """
    gql = e2e_stack.graphql
    newest = gql.runs()[:1]
    runs = [r for r in newest if r["status"] == "SUCCESS"
            and r["tags"].get("dagster/partition") == SCOPED]
    if not runs:
        backfill = gql.launch_partition_backfill(
            [SCOPED], gql.group_asset_keys("hubspot"), title="ui: scoped")
        _, runs = gql.wait_backfill(backfill, timeout=240)
        assert [r["status"] for r in runs] == ["SUCCESS"], gql.run_failure_messages(
            runs[0]["runId"])
    return runs[0]


def logged_at(e2e_stack, run_id: str, text: str) -> tuple[str, dt.time]:
    """The first log line of the run containing ``text`` (the run page's log filter) and
    the time the page shows for it."""
    url = f"{e2e_stack.url}/runs/{run_id}?logs={quote(text)}"
    row = re.compile(rf"(\d+:\d\d:\d\d\.\d+ [AP]M) \S+ \S+ ({re.escape(text)}[^|]*?)"
                     rf"(?= \d+:\d\d:\d\d\.\d+ [AP]M |$)")
    # The filter box shows `text` at once; the matching rows come after the run's
    # events have loaded (many, with a step process each): wait for a row.
    for budget_ms in (15_000, 30_000, 60_000):
        dom = chromium(url, "--dump-dom", budget_ms=budget_ms)
        assert dom.returncode == 0, dom.stderr[-2000:]
        page = text_of(dom.stdout)
        if found := row.search(page):
            return found.group(2), dt.datetime.strptime(found.group(1), "%I:%M:%S.%f %p").time()
    pytest.fail(f"no log row {text!r} on {url}: {page[-2000:]}")


def first_sync_of_scoped(e2e_stack) -> dict:  # after scoped_run: there is one
    """The first successful run of `scoped`: a full sync, so every unit moves (a later,
    incremental one may find no contact changed, and a unit that did not move logs no
    progress)."""
    runs = [r for r in e2e_stack.graphql.runs({"dagster/partition": SCOPED})
            if r["status"] == "SUCCESS"]
    return runs[-1]


def test_a_run_log_shows_progress_while_the_stage_runs(e2e_stack, scoped_run):
    run_id = first_sync_of_scoped(e2e_stack)["runId"]
    line, at = logged_at(e2e_stack, run_id, "progress object_records contacts: ")
    count = re.match(r"progress object_records contacts: (\d+) records in [\d.]+ s", line)
    assert count and int(count.group(1)) > 0, line
    # Logged while the stage ran: before its materialization.
    _, materialized = logged_at(e2e_stack, run_id, "Materialized value object_records")
    assert at <= materialized, (line, at, materialized)


def test_a_skipped_type_shows_as_a_warning_check(e2e_stack, scoped_run):
    url = f"{e2e_stack.url}/assets/object_download_list?view=checks&partition={SCOPED}"
    dom = render_dom(url, ["units_complete", "skipped (deals)"])
    page = text_of(dom)
    assert "crm.objects.deals.read" in page, page[:2000]
    # Dagster draws a failed WARN check with its yellow warning icon, an ERROR one in red.
    assert 'aria-label="warning_outline"' in dom


def test_object_records_shows_its_per_type_table(e2e_stack, scoped_run):
    url = f"{e2e_stack.url}/assets/object_records?partition={SCOPED}"
    page = text_of(render_dom(url, ["per_unit_counts", "limiter_wait_seconds_summed_over_workers"]))
    table = page[page.index("per_unit_counts"):]
    assert "unit status records archived calls errors seconds reason" in table, table[:600]
    assert re.search(r"contacts ok \d+ \d+ \d+ 0 ", table), table[:1500]


def test_consolidated_objects_shows_the_current_row_count(e2e_stack, e2e_mongo, scoped_run):
    live = e2e_mongo[f"source_{SCOPED}_objects"].count_documents({"deleted": False})
    url = f"{e2e_stack.url}/assets/consolidated_objects?partition={SCOPED}"
    page = text_of(render_dom(url, ["Row count", "per_type_counts"]))
    assert re.search(rf"Row count {live:,}\b", page) or f"Row count {live} " in page, \
        page[:1500]
    assert "object_type objects deleted total" in page
    # The Partitions tab shows one source's latest materialization, whatever ran after it.
    url = f"{e2e_stack.url}/assets/consolidated_objects?view=partitions&partition={SCOPED}"
    page = text_of(render_dom(url, ["dagster/row_count", "per_type_counts"]))
    assert f"dagster/row_count {live} " in page, page[:3000]


def test_the_run_carries_its_tags_and_history_summary(e2e_stack, scoped_run):
    # What the Runs page's tag list shows, read through the same GraphQL API.
    deadline = time.monotonic() + 60
    while "hubspot/summary" not in scoped_run["tags"] and time.monotonic() < deadline:
        time.sleep(1)  # the history sensor tags the run after it finished
        [scoped_run] = [r for r in e2e_stack.graphql.runs({"dagster/partition": SCOPED})
                        if r["runId"] == scoped_run["runId"]]
    tags = scoped_run["tags"]
    assert tags["hubspot/source"] == SCOPED and tags["hubspot/trigger"] == "backfill"
    # Every asset of the sync job (the backfill materializes them all).
    from hubspot_assets.defs.definitions import defs
    assets = len(defs.resolve_job_def("hubspot_sync").asset_layer.executable_asset_keys)
    assert tags["hubspot/summary"].startswith(f"success: {assets} asset(s)"), tags
    assert "object_download_list/deals" in tags["hubspot/skipped"]


def test_automation_lists_the_sensors_and_schedules(e2e_stack):
    page = text_of(render_dom(f"{e2e_stack.url}/automation", AUTOMATIONS))
    assert "Run status sensor" in page and "Schedule" in page
