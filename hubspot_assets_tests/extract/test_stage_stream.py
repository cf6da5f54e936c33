"""StageStream: owns its client, aborts on fatal errors, commits watermarks only once stored."""

import pytest

from hubspot_assets.extract.stage_stream import StageStream
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import Unauthorized
from hubspot_assets.hubspot.stats import ClientStats
from hubspot_assets.stream.protocol import RecordStream, StreamAborted
from hubspot_assets.stream.records import OBJECT, StreamRecord


class FakeClient:
    """Unit-test double for the HubSpot client: counters and close()."""

    def __init__(self):
        self.stats = ClientStats()
        self.closed = 0

    def close(self):
        self.closed += 1


class FakeCheckpoint:
    def __init__(self):
        self.committed = []

    def commit(self, run_id):
        self.committed.append(run_id)

    def metadata(self):
        return {"mode": "full"}


def records(n):
    return (StreamRecord(OBJECT, "contacts", str(i), {"id": str(i)}) for i in range(n))


def test_records_flow_then_the_client_closes_and_metadata_is_plain():
    client, checkpoint = FakeClient(), FakeCheckpoint()
    report = StageReport("object_records", "acme")
    stream = StageStream(lambda: records(3), report, client, checkpoint)
    assert isinstance(stream, RecordStream)
    assert [r.hubspot_id for r in stream] == ["0", "1", "2"]
    assert client.closed == 1 and checkpoint.committed == []  # nothing commits before storage
    stream.on_written("run-1")
    assert checkpoint.committed == ["run-1"]
    metadata = stream.metadata()
    assert metadata["mode"] == "full" and metadata["errors"] == 0
    assert metadata["api_calls"] == 0 and isinstance(metadata["api_usage"], dict)
    assert metadata["error_details"] == []


def test_a_fatal_error_aborts_the_stream_and_still_closes_the_client():
    client = FakeClient()

    def produce():
        yield from records(1)
        raise Unauthorized("401: the token was rejected")

    stream = StageStream(produce, StageReport("events", "acme"), client)
    with pytest.raises(StreamAborted, match="source acme, stage events: 401"):
        list(stream)
    assert client.closed == 1
