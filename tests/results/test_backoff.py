"""The delivery's retry arithmetic: exponential backoff with full jitter, capped, and never
sooner than the registry's Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from examsvc.registry import retry_after_seconds
from examsvc.results.delivery import retry_delay


@pytest.mark.parametrize(
    ("tries", "ceiling"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (50, 3600)]
)
def test_the_ceiling_doubles_up_to_an_hour(tries, ceiling):
    assert retry_delay(tries, None, rand=lambda: 1.0) == ceiling
    assert retry_delay(tries, None, rand=lambda: 0.5) == ceiling / 2
    assert retry_delay(tries, None, rand=lambda: 0.0) == 0


def test_full_jitter_spreads_over_the_whole_range():
    delays = [retry_delay(4, None) for _ in range(500)]
    assert 0 <= min(delays) < 60 and 180 < max(delays) <= 240


def test_retry_after_is_a_floor():
    assert retry_delay(1, 600, rand=lambda: 1.0) == 600
    assert retry_delay(9, 10, rand=lambda: 1.0) == 3600
    assert retry_delay(9, 10, rand=lambda: 0.0) == 10
    assert retry_delay(1, 10**9, rand=lambda: 0.0) == 86400  # at most a day


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Tue, 12 May 2026 01:05:00 GMT", now) == 300
    assert retry_after_seconds("Tue, 12 May 2026 00:55:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
