from __future__ import annotations

from datetime import timedelta

import pytest

from examsvc.enums import Procedure
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_bank, create_paper, create_window, let_in


@pytest.fixture
def exam(app, clock):
    """A cycle, a humanities paper (60 min, pass 60) with a window open now, and a
    simple-procedure physician, logged in on ``client`` (``candidate``) past the gate."""
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    physician = create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1")
    db.session.commit()
    return {"cycle": cycle, "paper": paper, "window": window, "physician": physician}


@pytest.fixture
def candidate(client, exam):
    client.post("/login", data={"login": exam["physician"].id_number, "password": "Right-Pass1"})
    let_in(client, exam["physician"])
    return client
