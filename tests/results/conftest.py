from __future__ import annotations

import pytest

from tests.roster.fake_registry import FakeRegistry


@pytest.fixture
def registry():
    """The fake registration system over real HTTP (as the roster's tests use it)."""
    fake = FakeRegistry().start()
    yield fake
    fake.stop()
