"""Fixtures shared by the reliability tests."""

import pytest


@pytest.fixture
def upstream(fake_endpoint):
    """The fake upstream as endpoint ``fake``, with its key in the environment."""
    return fake_endpoint(keyed=True)
