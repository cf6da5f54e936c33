"""The headless progress display: what it reads from a real Dagster event log,
plain lines off a terminal, rich's live table on one."""

from __future__ import annotations

import io
import uuid

import dagster as dg

from hubspot_assets_tests.harness.progress import (
    PlainDisplay,
    RichDisplay,
    RunWatcher,
    make_display,
)


@dg.op
def object_records(context) -> int:
    context.log.info("object_records: contacts 400 records so far, 80/s")
    context.log.info("object_records: contacts 900 records so far, 90/s")
    return 1


@dg.op
def events(context, _upstream) -> None:
    raise RuntimeError("events failed on purpose")


@dg.job
def two_stages():
    events(object_records())


def _run() -> tuple[dg.DagsterInstance, str]:
    instance = dg.DagsterInstance.ephemeral()
    run_id = str(uuid.uuid4())
    result = two_stages.execute_in_process(instance=instance, run_id=run_id,
                                           raise_on_error=False)
    assert not result.success
    return instance, run_id


def test_watcher_reads_steps_and_latest_messages_from_the_event_log():
    instance, run_id = _run()
    counts = iter([100, 300])
    watcher = RunWatcher(instance, run_id, count_stored=lambda: next(counts),
                         stages=("object_records", "events", "relationships"))
    first = watcher.poll()
    steps = first.steps
    assert steps["object_records"].status == "ok"
    assert steps["object_records"].message == "contacts 900 records so far, 90/s"
    assert steps["events"].status == "FAILED"
    assert steps["relationships"].status == "waiting"
    assert first.stored == 100 and first.rate is None
    second = watcher.poll()  # nothing new in the log; the count moved
    assert second.stored == 300 and second.rate > 0


def test_plain_lines_when_not_on_a_terminal():
    instance, run_id = _run()
    out = io.StringIO()
    display = make_display(out)
    assert isinstance(display, PlainDisplay)
    watcher = RunWatcher(instance, run_id, count_stored=lambda: 42,
                         stages=("object_records", "events"))
    display.show(watcher.poll(), now=100.0)
    display.show(watcher.poll(), now=101.0)  # unchanged: no new lines, count line not yet due
    display.show(watcher.poll(), now=111.0)  # the count line again after `every` seconds
    text = out.getvalue()
    lines = text.splitlines()
    assert "\x1b[" not in text  # no terminal codes in a log
    assert any(line.startswith("object_records: ok after") for line in lines)
    assert "events: FAILED after" in text
    assert sum("stream: 42 documents stored" in line for line in lines) == 2
    assert sum(line.startswith("object_records:") for line in lines) == 1


def test_rich_table_on_a_terminal():
    instance, run_id = _run()
    out = io.StringIO()
    display = make_display(out, force_terminal=True)
    assert isinstance(display, RichDisplay)
    watcher = RunWatcher(instance, run_id, stages=("object_records", "events"))
    display.show(watcher.poll())
    display.close()
    text = out.getvalue()
    assert "\x1b[" in text  # drawn with terminal codes
    assert "object_records" in text and "FAILED" in text
