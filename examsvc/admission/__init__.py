"""排队: admission control in front of the entry face verification. At a synchronised start
every candidate of a province reaches the face step within a minute; the face pool serves a
few at a time. A candidate asks to be admitted (``admission`` on ``/exam``), is admitted at
once while fewer verifications are in progress than the slots, and otherwise waits in a
FIFO queue, told their place and the estimated wait; ``entry_frames`` refuses a candidate
who is not admitted. The queue is one table, shared by every web process."""

from __future__ import annotations

from flask import Flask

from examsvc.jobs import JOBS, every


def init_app(app: Flask) -> None:
    """The socket event and the purge of old tickets."""
    # local import: a feature's events load when the app is built, not with its models
    from examsvc.admission import events, operations  # noqa: F401  (events registers on import)

    if not any(job.name == "admission-purge" for job in JOBS):
        every("admission-purge", lambda app: 300.0)(events.scheduled_purge)
