"""Signals between features: a lower feature announces, a higher one listens.

``attempt_changed`` is sent (sender: the attempt's id) whenever something the invigilators'
wall shows of an attempt changes: started, submitted or voided, a snapshot analysed, a page
event, the connection. The invigilation feature listens and, once the unit of work has
committed (``uow.after_commit``), pushes the candidate's row to the wall. So attempts and
camera never import invigilation.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

attempt_changed = _signals.signal("attempt-changed")
