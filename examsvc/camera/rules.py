"""The gate before an attempt, as plain rules: the consent text's version, which entry
outcomes let a candidate go on, when a verification still counts, when to ask for help."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from examsvc.camera.models import EntryOutcome

# The consent text (templates/camera/consent.html) agreed to. 2026-3: the camera check,
# entry face verification, random snapshots seen by invigilators, retention. A new text
# gets a new version, and every physician is asked again.
CONSENT_VERSION = "2026-3"

# "review" (between the strict and the loose threshold): may go on, an invigilator decides.
PASSING = frozenset({EntryOutcome.PASSED, EntryOutcome.REVIEW})
FAILING = frozenset({EntryOutcome.MISMATCH, EntryOutcome.RETRY, EntryOutcome.MULTIPLE_FACES})
FAILURES_BEFORE_HELP = 3  # failed verifications in a row before the agency is asked to help
MIN_FRAMES, MAX_FRAMES = 3, 6  # frames of one entry verification


def device_key(token: str) -> str:
    """What an entry check keeps of the session's device token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def outcome_of(result: dict[str, Any]) -> EntryOutcome:
    """The engine's entry decision as an outcome (an unreadable job: try again)."""
    try:
        return EntryOutcome(result.get("code") or "retry")
    except ValueError:
        return EntryOutcome.RETRY


def still_valid(checked_at: datetime, now: datetime, minutes: int) -> bool:
    """A verification opens a new attempt only for a while (EXAMSVC_ENTRY_VALID_MINUTES)."""
    return now - checked_at <= timedelta(minutes=minutes)
