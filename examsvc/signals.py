"""Signals between features: a lower feature announces, a higher one listens.

``attempt_changed`` is sent (sender: the attempt's id) whenever something the invigilators'
wall shows of an attempt changes: started, submitted or voided, a snapshot analysed, a page
event, the connection. The invigilation feature listens and, once the unit of work has
committed (``uow.after_commit``), pushes the candidate's row to the wall. So attempts and
camera never import invigilation.

``verdict_may_change`` is sent (sender: the physician's id; ``now``: the time of the
operation) inside the unit of work of anything that may decide a physician's cycle result:
an attempt submitted (by the candidate, the deadline sweeper or an invigilator) or voided,
a roster pull or file import changing the physician's evaluations, exemptions, status,
procedure, category or level. The results feature listens and queues the result for the
registration system in the same transaction, so a decided result is never lost and never
written without its cause.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

attempt_changed = _signals.signal("attempt-changed")
verdict_may_change = _signals.signal("verdict-may-change")
