from __future__ import annotations

import pytest

from tests.roster.fake_registry import FakeRegistry


@pytest.fixture
def registry():
    fake = FakeRegistry().start()
    yield fake
    fake.stop()
