"""The gate before an attempt, as plain rules: the consent text's version, which entry
outcomes let a candidate go on, when a verification still counts, when to ask for help.

The camera's rules, as plain functions of their inputs (``rng`` and ``now`` passed in).

随机抓拍: the server decides when the next snapshot is taken, at a random, jittered time
around a configurable mean, a third of it for a flagged candidate. A snapshot's status is
the most serious of what the engine found (``SNAPSHOT_SEVERITY``). Automated flags never
sanction: nothing here voids or warns."""

from __future__ import annotations

import hashlib
import math
import random
from datetime import datetime, timedelta
from typing import Any

from examsvc.camera.models import FLAGGING as FLAGGING  # the camera rules use it too
from examsvc.camera.models import SNAPSHOT_SEVERITY, EntryOutcome, SnapshotStatus
from examsvc.marks import N_
from proctoring.frames import sniff

CONSENT_VERSION = "2026-3"

# "review" (between the strict and the loose threshold): may go on, an invigilator decides.
PASSING = frozenset({EntryOutcome.PASSED, EntryOutcome.REVIEW})
FAILING = frozenset({EntryOutcome.MISMATCH, EntryOutcome.RETRY, EntryOutcome.MULTIPLE_FACES})
FAILURES_BEFORE_HELP = 3  # failed verifications in a row before the agency is asked to help
MIN_FRAMES, MAX_FRAMES = 3, 6  # frames of one entry verification


# 活体检测 (proctoring.liveness): what the page shows for each challenge, and what a
# candidate who did not do it is told. The turns are the candidate's own left and right
# (the preview is mirrored, so "←" points the way the head turns on screen).
CHALLENGE_MINUTES = 10  # a challenge chosen longer ago than this is not used any more
MOTION_FRAMES = (0, 12)  # frames of the movement the page may send
CHALLENGE_TEXT = {
    "blink": N_("请眨眨眼"),
    "turn_left": N_("请慢慢向左转头"),
    "turn_right": N_("请慢慢向右转头"),
    "open_mouth": N_("请张开嘴"),
}
CHALLENGE_CUE = {"blink": "◉ ◉ → — —", "turn_left": "←", "turn_right": "→", "open_mouth": "○"}
CHALLENGE_RETRY = {
    "blink": N_("未检测到眨眼。请按提示眨眼后重试"),
    "turn_left": N_("未检测到转头。请按提示向左转头后重试"),
    "turn_right": N_("未检测到转头。请按提示向右转头后重试"),
    "open_mouth": N_("未检测到张嘴。请按提示张嘴后重试"),
}


def with_liveness(result: dict[str, Any], verdict: dict[str, Any] | None) -> dict[str, Any]:
    """The entry decision with the liveness verdict (the ``liveness`` job's result) in it: a
    face that matched but did not do the challenge is a ``retry`` (and enrols nothing); a
    face that did not match stays what it was."""
    if verdict is None:
        return result
    kept = {k: v for k, v in verdict.items() if k != "ok"}
    combined = {**result, "liveness": kept}
    if verdict.get("passed") or outcome_of(result) not in PASSING:
        return combined
    return {
        **combined,
        "code": EntryOutcome.RETRY.value,
        "identity_code": result.get("code"),
        "passed": False,
        "ok": False,
        "enrolled": [],
        "message_zh": None,
        "message_en": None,
    }


def device_key(token: str) -> str:
    """What an entry check keeps of the session's device token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def outcome_of(result: dict[str, Any]) -> EntryOutcome:
    """The engine's entry decision as an outcome (an unreadable job: try again)."""
    try:
        return EntryOutcome(result.get("code") or "retry")
    except ValueError:
        return EntryOutcome.RETRY


def valid_since(now: datetime, minutes: int) -> datetime:
    """A verification opens a new attempt only for a while (EXAMSVC_ENTRY_VALID_MINUTES):
    one checked at this time or later (the gate's statement compares with it)."""
    return now - timedelta(minutes=minutes)


JITTER = (0.5, 1.5)  # the interval is drawn uniformly between these fractions of the mean
FLAGGED_FACTOR = 1 / 3  # a flagged candidate is photographed three times as often
MIN_SECONDS = 5.0  # never closer than this, whatever the configuration
MAX_BYTES = 200 * 1024  # a snapshot larger than this is refused (the client sends ~30–60 KB)
RATE_SLACK = 3  # snapshots beyond the schedule (an invigilator's request, a retry)

# The engine's codes (``proctoring.engine.check_snapshot`` flags, a job's ``error``).
_STATUS_OF_CODE = {
    "mismatch": SnapshotStatus.MISMATCH,
    "identity_uncertain": SnapshotStatus.MISMATCH,
    "multiple_faces": SnapshotStatus.MULTIPLE_FACES,
    "no_face": SnapshotStatus.NO_FACE,
    "covered_eyes": SnapshotStatus.COVERED,
    "covered_mouth": SnapshotStatus.COVERED,
    "covered": SnapshotStatus.COVERED,
    "dark": SnapshotStatus.POOR_CAMERA,
    "overexposed": SnapshotStatus.POOR_CAMERA,
    "blurred": SnapshotStatus.POOR_CAMERA,
    "face_too_small": SnapshotStatus.POOR_CAMERA,
    "off_centre": SnapshotStatus.POOR_CAMERA,
}


def next_snapshot_in(mean_seconds: float, flagged: bool, rng: random.Random) -> float:
    """Seconds until the next snapshot: uniform in [0.5, 1.5] × the mean (a third of the
    mean when flagged), never below :data:`MIN_SECONDS`; rounded to a tenth of a second."""
    mean = mean_seconds * (FLAGGED_FACTOR if flagged else 1.0)
    low, high = JITTER
    return round(max(MIN_SECONDS, rng.uniform(low * mean, high * mean)), 1)


def rate_window(mean_seconds: float) -> float:
    """The window over which snapshots are counted: one mean interval."""
    return float(max(mean_seconds, MIN_SECONDS))


def max_snapshots_in_window(mean_seconds: float) -> int:
    """What the server may ask for within :func:`rate_window` (a flagged candidate at the
    shortest jittered interval), plus :data:`RATE_SLACK`."""
    shortest = max(MIN_SECONDS, JITTER[0] * mean_seconds * FLAGGED_FACTOR)
    return math.ceil(rate_window(mean_seconds) / shortest) + RATE_SLACK


SNAPSHOT_TYPES = {"JPEG": "jpeg", "PNG": "png"}  # what a snapshot may be, by ``sniff``


def image_type(data: bytes) -> str | None:
    """``jpeg`` or ``png`` by the file's magic bytes (the engine's ``sniff``), else None."""
    return SNAPSHOT_TYPES.get(sniff(data) or "")


def status_of(result: dict[str, Any]) -> SnapshotStatus:
    """A face job's result (``check_snapshot(...).as_dict()``, or ``{"ok": False, "error":
    code}`` for a frame that could not be decoded) as the most serious status."""
    if result.get("error") or "flags" not in result:
        return SnapshotStatus.ERROR
    found = {_STATUS_OF_CODE.get(code, SnapshotStatus.POOR_CAMERA) for code in result["flags"]}
    if not found:
        return SnapshotStatus.OK
    return next(status for status in SNAPSHOT_SEVERITY if status in found)
