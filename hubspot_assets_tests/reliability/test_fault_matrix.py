"""The fault matrix at 5% (the 1% and 20% rows run in scripts/fault_matrix): every
record, event and association exactly once, errors recorded, no secret anywhere."""

import os

import pytest

from hubspot_assets_tests.harness import fault_matrix


@pytest.fixture(scope="module")
def matrix_uri(mongo_uri):
    """The stand-in with a fake password in the URI; a real server's URI as given."""
    return mongo_uri if os.environ.get("MONGODB_URI") else fault_matrix.credentialed(mongo_uri)


@pytest.mark.parametrize("fault", list(fault_matrix.FAULTS))
def test_five_percent_row_is_complete_without_duplicates_or_leaks(fault, matrix_uri,
                                                                    mongo_database, tmp_path):
    row = fault_matrix.run_row(fault, 0.05, matrix_uri, mongo_database, tmp_path)
    assert row.verdict == "complete", row.problems
    assert (row.missing, row.duplicates, row.unexpected, row.leaks) == (0, 0, 0, 0)
    assert row.found == row.expected > 1500
