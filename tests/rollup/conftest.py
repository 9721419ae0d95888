"""Fixtures of the stage rollup tests: a check that the rollup equals GROUP BY."""

import pytest


@pytest.fixture
def assert_rollup_exact():
    """Assert the rollup (its delta log summed) equals GROUP BY over contacts and stage changes."""
    from contacts.rollup import rollup_stored, rollup_truth

    def check():
        counts, moves = rollup_truth()
        stored_counts, stored_moves = rollup_stored()
        assert stored_counts == counts
        assert stored_moves == moves
        return counts, moves

    return check
