"""The lean hot paths of issue #14: the cached sheet of an attempt, the one-statement save,
SQLite's synchronous setting, psycopg's cooperative wait under gevent."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc import create_app
from examsvc.attempts import operations as ops
from examsvc.attempts import sheets
from examsvc.attempts.events import NAMESPACE
from examsvc.attempts.models import Answer, Attempt, AttemptItem
from examsvc.banks.models import Question
from examsvc.banks.operations import QUESTION_CACHE
from examsvc.config import ConfigError
from examsvc.extensions import db, socketio
from examsvc.papers.operations import current_version, draw_questions
from question_banks.types import QUESTION_TYPES
from tests.conftest import REPO
from tests.factories import create_cycle
from tests.factories_exam import create_paper


def start(client, paper_id: int) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reference_view(attempt: Attempt, now) -> dict[str, Any]:
    """The state as it was built before the cache: every item and question through the ORM."""
    answers = {
        a.item_id: a
        for a in db.session.scalars(sa.select(Answer).where(Answer.attempt_id == attempt.id))
    }
    items = []
    for item in attempt.items:
        answer = answers.get(item.id)
        items.append(
            {
                "position": item.position,
                "section": item.section_position,
                "points": item.points_per_item,
                **QUESTION_TYPES[item.question.qtype].candidate_view(
                    item.question.data, item.option_order
                ),
                "response": answer.response if answer else None,
                "marked": answer.marked if answer else False,
                "seq": answer.seq if answer else 0,
            }
        )
    return {
        "id": attempt.id,
        "paper": attempt.paper.name,
        "status": attempt.status.value,
        "number": attempt.number,
        "server_time": now.isoformat(),
        "deadline": attempt.deadline_at.isoformat(),
        "remaining_seconds": max(0, int((attempt.deadline_at - now).total_seconds())),
        "last_seq": attempt.last_seq,
        "items": items,
    }


def test_the_cached_state_is_the_uncached_view(app, candidate, exam, clock):
    body = start(candidate, exam["paper"].id)
    url = f"/api/v1/exam/attempts/{body['id']}"
    first = body["items"][0]
    choice = first["options"][1]["key"] if "options" in first else True
    put = candidate.put(f"{url}/answers/1", json={"response": choice, "seq": 3, "marked": True})
    assert put.get_json()["code"] == "saved"
    cache = sheets.caches()
    assert len(cache.sheets) == 1  # kept once the start committed
    cached = candidate.get(url).get_json()
    cache.sheets = sheets.LRU(sheets.SHEETS)  # forgotten: read again from the database
    app.extensions.pop(QUESTION_CACHE)
    fresh = candidate.get(url).get_json()
    db.session.expire_all()
    reference = reference_view(db.session.get(Attempt, body["id"]), clock.now())
    assert cached == fresh == reference
    assert cached["items"][0]["response"] == choice and cached["items"][0]["marked"] is True
    assert cached["last_seq"] == 3
    assert body["items"][1:] == cached["items"][1:]  # the start's view, from the same sheet


def test_the_sheet_of_one_attempt_is_never_another_attempts(app, candidate, exam):
    """Keyed by id, seed and start: a key cannot name other items."""
    body = start(candidate, exam["paper"].id)
    attempt = db.session.get(Attempt, body["id"])
    sheet = ops.sheet_of(attempt)
    assert [i.position for i in sheet.items] == list(range(1, len(body["items"]) + 1))
    assert sheets.key(attempt.id, attempt.seed, attempt.started_at) != sheets.key(
        attempt.id, attempt.seed + 1, attempt.started_at
    )


def test_the_socket_save_keeps_seq_order_and_refuses_what_it_must(app, candidate, exam, clock):
    body = start(candidate, exam["paper"].id)
    attempt_id = body["id"]
    single = next(i for i in body["items"] if i["type"] == "single")
    a, b = (o["key"] for o in single["options"][:2])
    channel = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=candidate)

    def save(seq: int, response: Any = a, position: int = single["position"], **extra: Any):
        message = {"attempt_id": attempt_id, "position": position, "response": response}
        return channel.emit(
            "answer", message | {"seq": seq, **extra}, namespace=NAMESPACE, callback=True
        )

    assert save(5)["code"] == "saved"
    older = save(3, b)
    assert (older["ok"], older["code"], older["seq"]) == (True, "stale", 5)
    assert save(5, b)["code"] == "stale"  # a replay of the same seq changes nothing
    assert save(7, "Z")["error"]["code"] == "bad_response"
    assert save(8, a, position=999)["error"]["code"] == "no_such_question"
    stored = db.session.execute(
        sa.select(Answer.response, Answer.seq).where(Answer.attempt_id == attempt_id)
    ).one()
    assert tuple(stored) == (a, 5)
    assert save(6, b)["code"] == "saved"
    db.session.expire_all()
    assert db.session.get(Attempt, attempt_id).last_seq == 6
    assert db.session.scalar(sa.select(Answer.response).where(Answer.attempt_id == attempt_id)) == b
    # A save of another question with a lower seq is stored, and last_seq never goes down.
    other = next(i for i in body["items"] if i["type"] == "true_false")
    assert save(2, True, position=other["position"])["code"] == "saved"
    db.session.expire_all()
    assert db.session.get(Attempt, attempt_id).last_seq == 6
    # Time up (past the grace) and closed attempts are refused as before.
    deadline = db.session.get(Attempt, attempt_id).deadline_at
    clock.set(deadline + timedelta(seconds=app.config["ANSWER_GRACE_SECONDS"] + 1))
    assert save(9)["error"]["code"] == "deadline_passed"
    clock.set(deadline - timedelta(minutes=1))
    candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit")
    assert save(10)["error"]["code"] == "attempt_closed"
    state = candidate.get(f"/api/v1/exam/attempts/{attempt_id}").get_json()
    assert state["status"] == "submitted" and "result" in state


def test_another_cycle_makes_the_attempt_unreachable_as_before(app, candidate, exam):
    """The narrow ownership check follows the current cycle's rule (configured, or the
    latest to start), and a refusal answers with my_attempt's own error."""
    body = start(candidate, exam["paper"].id)
    url = f"/api/v1/exam/attempts/{body['id']}"
    create_cycle("HN-2029", starts_on=date(2027, 1, 1), ends_on=date(2029, 12, 31))
    db.session.commit()
    refused = candidate.get(url)
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_registered"
    app.config["REGISTRY_CYCLE"] = exam["cycle"].code
    assert candidate.get(url).status_code == 200
    saved = candidate.put(f"{url}/answers/1", json={"response": None, "seq": 1})
    assert saved.get_json()["code"] == "saved"
    app.config["REGISTRY_CYCLE"] = "HN-2029"
    assert candidate.get(url).get_json()["error"]["code"] == "not_registered"


def test_the_draw_reads_only_the_chosen_questions_and_draws_as_before(app, clock):
    """Same seed, same questions and option orders as drawing from every question loaded."""
    from tests.factories_exam import create_bank

    cycle = create_cycle()
    create_bank(now=clock.now(), per_type=12)
    paper = create_paper(cycle.id, clock.now())
    for shuffle in (True, False):
        paper.shuffle_questions = paper.shuffle_options = shuffle
        db.session.flush()
        for seed in (1, 42, 2**31 - 1):
            expected = []
            for section in paper.sections:
                rng = random.Random(f"{seed}:{section.position}")
                version = current_version(section.bank_id)
                everything = list(
                    db.session.scalars(
                        sa.select(Question)
                        .where(Question.version_id == version.id, Question.qtype == section.qtype)
                        .order_by(Question.external_id)
                    )
                )
                chosen = rng.sample(everything, section.count)
                if not shuffle:
                    chosen.sort(key=lambda q: q.external_id)
                for q in chosen:
                    order = QUESTION_TYPES[q.qtype].shuffled_order(q.data, rng) if shuffle else None
                    expected.append((q.id, section.position, order))
            drawn = [
                (d.question_id, d.section_position, d.option_order)
                for d in draw_questions(paper, seed)
            ]
            assert drawn == expected


def test_sqlite_synchronous_is_normal_by_default_and_configurable(app, tmp_path, migrated_database):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite setting")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    full = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": migrated_database,
            "DATA_DIR": str(tmp_path / "full"),
            "SQLITE_SYNCHRONOUS": "full",
        }
    )
    with full.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        db.engine.dispose()
    with pytest.raises(ConfigError, match="EXAMSVC_SQLITE_SYNCHRONOUS"):
        create_app(
            {"TESTING": True, "DATABASE_URL": migrated_database, "SQLITE_SYNCHRONOUS": "OFF"}
        )


def test_psycopg_waits_cooperatively_once_gevent_has_patched(tmp_path):
    """``examsvc serve`` patches before the app (and psycopg) is imported: psycopg then
    waits on the patched ``select.poll``, yielding to other greenlets, never with its C
    ``wait_c`` that would block the loop."""
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "from examsvc import create_app\n"
        "from examsvc.extensions import db\n"
        "app = create_app({'TESTING': True, 'DATABASE_URL': 'postgresql://u@127.0.0.1:1/x',"
        f" 'DATA_DIR': {str(tmp_path)!r}}})\n"
        "with app.app_context():\n"
        "    assert db.engine.dialect.driver == 'psycopg'\n"
        "import psycopg.waiting as w\n"
        "print(w.wait.__name__, w.wait is getattr(w, 'wait_c', None))\n"
    )
    env = os.environ | {"PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    name, is_c = out.stdout.split()
    assert name in ("wait_poll", "wait_selector") and is_c == "False"


def test_a_start_inserts_its_items_and_keeps_its_sheet_only_after_commit(app, candidate, exam):
    body = start(candidate, exam["paper"].id)
    rows = db.session.scalars(
        sa.select(AttemptItem.position).where(AttemptItem.attempt_id == body["id"])
    ).all()
    assert sorted(rows) == [i["position"] for i in body["items"]]
    attempt = db.session.get(Attempt, body["id"])
    assert (
        sheets.caches().sheets.get(sheets.key(attempt.id, attempt.seed, attempt.started_at))
        is not None
    )


@pytest.mark.parametrize("shuffle", [True, False])
def test_a_start_stores_its_attempt_and_every_item_as_drawn(app, candidate, exam, shuffle):
    """The attempt and its items inserted from one JSON parameter (on PostgreSQL in one
    statement with the attempt): every item as the attempt's seed draws it, its id the one
    the sheet names; an order not shuffled stored as a JSON null, as the JSON type stores
    None, not SQL NULL."""
    paper = exam["paper"]
    paper.shuffle_questions = paper.shuffle_options = shuffle
    db.session.commit()
    body = start(candidate, paper.id)
    attempt = db.session.get(Attempt, body["id"])
    assert (attempt.physician_id, attempt.paper_id, attempt.window_id) == (
        exam["physician"].id,
        paper.id,
        exam["window"].id,
    )
    assert (attempt.number, attempt.status.value, attempt.last_seq) == (1, "in_progress", 0)
    assert attempt.open_slot == f"{exam['physician'].id}:{paper.id}"
    assert (attempt.submitted_at, attempt.score, attempt.passed) == (None, None, None)
    drawn = draw_questions(paper, attempt.seed)
    stored = db.session.execute(
        sa.select(
            AttemptItem.id,
            AttemptItem.position,
            AttemptItem.question_id,
            AttemptItem.section_position,
            AttemptItem.points_per_item,
            AttemptItem.option_order,
            AttemptItem.earned_points,
            sa.literal_column("attempt_items.option_order IS NULL"),
        )
        .where(AttemptItem.attempt_id == attempt.id)
        .order_by(AttemptItem.position)
    ).all()
    assert [tuple(r[1:7]) for r in stored] == [
        (i, d.question_id, d.section_position, d.points_per_item, d.option_order, None)
        for i, d in enumerate(drawn, start=1)
    ]
    assert not any(r[7] for r in stored)  # never SQL NULL
    assert all((r.option_order is None) != shuffle for r in stored)
    assert [r.id for r in stored] == sorted(r.id for r in stored)  # ids in position order
    assert attempt.total_points == sum(
        d.points_per_item * db.session.get(Question, d.question_id).scoring_items for d in drawn
    )
    sheet = sheets.caches().sheets.get(sheets.key(attempt.id, attempt.seed, attempt.started_at))
    assert sheet is not None
    assert [(i.id, i.position) for i in sheet.items] == [(r.id, r.position) for r in stored]
