from __future__ import annotations

from datetime import timedelta

import pytest

from examsvc.banks.operations import BankInfo, import_bank
from examsvc.enums import PaperKind, Procedure
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician
from tests.factories_exam import create_paper, create_window, let_in, make_parsed


@pytest.fixture
def exam(app, clock):
    """The humanities exam bank (every explanation unique, so a page that shows one can be
    caught), a paper drawing from it with a window open now, and a consented physician."""
    cycle = create_cycle()
    parsed = make_parsed("humanities", ["医学伦理", "卫生法规"])
    for q in parsed.questions:
        q["explanation"] = f"解析·{q['external_id']}" if q.get("explanation") else ""
        for sub in q.get("sub_questions") or []:
            sub["explanation"] = f"解析·{sub['external_id']}"
    version = import_bank(
        parsed,
        BankInfo("humanities", "医学人文题库", PaperKind.HUMANITIES, None),
        filename="humanities.json",
        data=b"{}",
        actor_id=None,
        now=clock.now(),
    )
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now() - timedelta(hours=1), hours=48)
    physician = create_physician(cycle, Procedure.SIMPLE, password="Right-Pass1")
    db.session.commit()
    return {"bank": version.bank, "paper": paper, "window": window, "physician": physician}


@pytest.fixture
def candidate(client, exam):
    client.post("/login", data={"login": exam["physician"].id_number, "password": "Right-Pass1"})
    let_in(client, exam["physician"])
    return client
