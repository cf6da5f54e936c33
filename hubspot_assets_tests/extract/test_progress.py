"""Progress lines: at most one per unit per interval, with rate, total and time left;
and a stage report's per-unit rows, skip warnings and queued messages (fake clock)."""

import logging

from hubspot_assets.extract.progress import Progress, ProgressBoard, format_seconds, throttled
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import MissingScope, ServerError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_names_count_rate_total_and_time_left():
    clock = FakeClock()
    progress = Progress("object_records contacts", total=20_000, clock=clock)
    progress.add(12_000)
    clock.now += 10
    assert progress.line() == ("object_records contacts: 12,000 records in 10.0 s (1,200/s); "
                               "~20,000 total (60%), ~7 s left")
    progress.total = None
    assert progress.line() == "object_records contacts: 12,000 records in 10.0 s (1,200/s)"


def test_lines_come_at_most_once_per_interval_and_only_after_a_change():
    clock = FakeClock()
    board = ProgressBoard("events", clock=clock, interval=10)
    board.unit("e_visited_page").add(5)
    assert board.due() == []            # not 10 s yet
    clock.now += 10
    assert board.due() == ["progress events e_visited_page: 5 records in 10.0 s (0/s)"]
    clock.now += 3
    board.unit("e_visited_page").add(1)
    assert board.due() == []            # 3 s after the last line
    clock.now += 20
    assert len(board.due()) == 1
    clock.now += 20
    assert board.due() == []            # nothing moved since
    board.unit("e_visited_page").done()
    assert board.due() == ["progress events e_visited_page: 6 records in 53.0 s (0/s), done"]
    board.unit("e_visited_page").add(1)
    clock.now += 20
    assert board.due() == []            # finished units are quiet after their last line
    board.unit("quick").add(3)
    board.unit("quick").done()
    assert board.due() == []            # a unit shorter than the interval says nothing


def test_throttled_counts_batches_and_logs_when_due():
    clock, lines = FakeClock(), []
    on_batch = throttled(Progress("consolidated_objects", unit="stream documents", clock=clock),
                         lines.append, interval=10)
    on_batch(1000)
    clock.now += 11
    on_batch(1000)
    on_batch(1000)
    assert lines == ["progress consolidated_objects: 2,000 stream documents in 11.0 s (182/s)"]


def test_durations_read_at_a_glance():
    assert [format_seconds(s) for s in (7.4, 185, 7440)] == ["7 s", "3 min 5 s", "2 h 4 min"]


def test_rows_count_live_and_archived_records_and_the_worst_status(monkeypatch):
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_RETRY_DELAY", 0)
    clock = FakeClock()
    report = StageReport("object_records", "acme", counters=("records",), clock=clock)
    assert report.metadata()["records"] == 0     # declared counters are always there
    list(report.guarded("contacts", iter([1, 2, 3]), row="contacts"))
    clock.now += 2
    list(report.guarded("contacts (archived)", iter([4]), row="contacts", archived=True))

    def failing():
        yield 1
        raise ServerError("HubSpot answered 503", status=503)

    list(report.guarded("companies", failing))
    rows = {row["unit"]: row for row in report.unit_rows()}
    assert rows["contacts"] == {"unit": "contacts", "status": "ok", "records": 3, "archived": 1,
                                "calls": None, "errors": 0, "seconds": 2.0, "reason": ""}
    assert rows["companies"]["status"] == "failed"
    assert rows["companies"]["records"] == 3     # three fetches of one record each
    assert rows["companies"]["errors"] == 3 and "503" in rows["companies"]["reason"]


def test_a_skipped_unit_warns_with_the_reason_and_the_scope_to_add():
    said = []
    report = StageReport("object_download_list", "acme")
    report.queue_to(lambda level, message: said.append((level, message)))
    error = MissingScope("The HubSpot private app lacks the scope(s) crm.objects.deals.read",
                         scopes=("crm.objects.deals.read",), status=403,
                         category="MISSING_SCOPES", hint="Grant crm.objects.deals.read")
    report.skipped("deals", error)
    assert said == []                              # held for the consuming thread
    report.flush()
    [(level, message)] = said
    assert level == logging.WARNING
    assert "deals skipped" in message and "crm.objects.deals.read" in message
    metadata = report.metadata()
    assert metadata["units_skipped"] == 1 and metadata["skipped"] == 1
    assert metadata["skipped_units"] == [{"unit": "deals", "message": str(error), "status": 403,
                                          "category": "MISSING_SCOPES",
                                          "scopes": ["crm.objects.deals.read"]}]
    assert report.unit_rows()[0]["status"] == "skipped"


def test_flush_hands_due_progress_lines_to_the_sink():
    clock, said = FakeClock(), []
    report = StageReport("events", "acme", clock=clock, interval=10)
    report.queue_to(lambda level, message: said.append(message))
    records = report.guarded("e_visited_page", iter(range(50)))
    for _ in range(20):
        next(records)
    clock.now += 10
    report.flush()
    assert said == ["progress events e_visited_page: 20 records in 10.0 s (2/s)"]


def test_a_long_unit_asks_for_its_total_once_and_a_short_one_never():
    clock, said, asked = FakeClock(), [], []
    report = StageReport("object_records", "acme", clock=clock, interval=10)
    report.queue_to(lambda level, message: said.append(message))

    def estimate():
        asked.append(1)
        return 1_000

    list(report.guarded("quick", iter(range(5)), estimate=estimate))
    assert asked == []
    records = report.guarded("contacts", iter(range(500)), estimate=estimate)
    next(records)
    clock.now += 10
    for _ in range(399):
        next(records)
    assert asked == [1]
    report.flush()
    assert said == ["progress object_records contacts: 400 records in 10.0 s (40/s); "
                    "~1,000 total (40%), ~15 s left"]
    list(records)
    assert asked == [1]


def test_a_unit_runs_until_its_last_part_ends():
    clock, said = FakeClock(), []
    report = StageReport("object_records", "acme", clock=clock, interval=10)
    report.queue_to(lambda level, message: said.append(message))
    first = report.guarded("contacts->companies (1..1000)", iter(range(100)),
                           row="contacts->companies")
    second = report.guarded("contacts->companies (1001..2000)", iter(range(3)),
                            row="contacts->companies")
    next(first)
    assert len(list(second)) == 3          # the short part ends first ...
    clock.now += 10
    for _ in range(50):
        next(first)
    report.flush()                         # ... and the unit still runs
    assert said == ["progress object_records contacts->companies: 54 records in 10.0 s (5/s)"]
    list(first)
    report.flush()
    assert said[-1] == ("progress object_records contacts->companies: 103 records in 10.0 s "
                        "(10/s), done")
    # A type's archived listing shares its row, not its progress (a total is of live ones).
    list(report.guarded("deals (archived)", iter(range(2)), row="deals", archived=True))
    assert report.unit_rows()[-1]["archived"] == 2
    assert "deals (archived)" in report.progress._units
