"""The camera's pure rules: when the next snapshot is due, how many the server accepts,
which images it accepts, and the status a decision becomes."""

from __future__ import annotations

import random
import statistics

import pytest

from examsvc.camera import rules
from examsvc.camera.models import SnapshotStatus


def test_intervals_are_jittered_around_the_mean_within_half_and_one_and_a_half():
    rng = random.Random(7)
    draws = [rules.next_snapshot_in(60, False, rng) for _ in range(2000)]
    assert min(draws) >= 30 and max(draws) <= 90
    assert 58 <= statistics.mean(draws) <= 62
    assert len(set(draws)) > 500  # random, not a fixed beat a candidate could time


def test_the_same_seed_gives_the_same_schedule():
    first = [rules.next_snapshot_in(60, False, random.Random(3)) for _ in range(3)]
    again = [rules.next_snapshot_in(60, False, random.Random(3)) for _ in range(3)]
    assert first == again


def test_a_flagged_candidate_is_photographed_three_times_as_often():
    rng = random.Random(11)
    flagged = [rules.next_snapshot_in(90, True, rng) for _ in range(2000)]
    assert min(flagged) >= 15 and max(flagged) <= 45
    assert 29 <= statistics.mean(flagged) <= 31


def test_the_mean_is_configurable_and_never_below_the_floor():
    rng = random.Random(5)
    assert all(20 <= rules.next_snapshot_in(40, False, rng) <= 60 for _ in range(200))
    assert all(rules.next_snapshot_in(3, True, rng) == rules.MIN_SECONDS for _ in range(50))


def test_the_rate_limit_is_what_the_server_may_ask_plus_slack():
    # Flagged at the shortest interval: 60 × 0.5 / 3 = 10 s, six in a 60-second window.
    assert rules.rate_window(60) == 60
    assert rules.max_snapshots_in_window(60) == 6 + rules.RATE_SLACK
    rng = random.Random(1)
    asked, t = 0, 0.0
    while True:
        t += rules.next_snapshot_in(60, True, rng)
        if t > 60:
            break
        asked += 1
    assert asked <= rules.max_snapshots_in_window(60) - rules.RATE_SLACK


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0rest", "jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "png"),
        (b"GIF89a", None),
        (b"<svg></svg>", None),
        (b"", None),
    ],
)
def test_images_are_recognised_by_their_magic_bytes(data, kind):
    assert rules.image_type(data) == kind


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ({"ok": True, "flags": []}, SnapshotStatus.OK),
        ({"flags": ["dark", "no_face"]}, SnapshotStatus.NO_FACE),
        ({"flags": ["multiple_faces", "no_face"]}, SnapshotStatus.MULTIPLE_FACES),
        ({"flags": ["blurred", "mismatch"]}, SnapshotStatus.MISMATCH),
        ({"flags": ["identity_uncertain"]}, SnapshotStatus.MISMATCH),
        ({"flags": ["covered_mouth", "off_centre"]}, SnapshotStatus.COVERED),
        ({"flags": ["overexposed"]}, SnapshotStatus.POOR_CAMERA),
        ({"flags": ["face_too_small"]}, SnapshotStatus.POOR_CAMERA),
        ({"ok": False, "error": "undecodable"}, SnapshotStatus.ERROR),
    ],
)
def test_a_decision_becomes_its_most_serious_status(result, status):
    assert rules.status_of(result) == status
