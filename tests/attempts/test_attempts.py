"""Attempts through the API and the operations: start, save, submit, sweep."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc import offload, uow
from examsvc.accounts.openapi import PART as ACCOUNTS
from examsvc.attempts import operations as ops
from examsvc.attempts.models import Answer, Attempt, AttemptItem
from examsvc.attempts.openapi import PART as ATTEMPTS
from examsvc.attempts.sweeper import sweep
from examsvc.camera.models import EntryCheck
from examsvc.enums import AttemptStatus, Procedure
from examsvc.extensions import db
from examsvc.roster.models import Physician
from question_banks.types import QUESTION_TYPES
from tests.factories_exam import create_bank, let_in, pass_gate
from tests.factories_exam import entry as gate_entry


def start(client, paper_id: int, ack: bool = True):
    return client.post(f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": ack})


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def correct_response(item: AttemptItem) -> Any:
    data = item.question.data
    if item.question.qtype in ("case", "matching"):
        return {s["external_id"]: s["answer"] for s in data["sub_questions"]}
    return data["answer"]


def test_overview_speaks_the_manuals_words(candidate, exam):
    body = candidate.get("/api/v1/exam").get_json()
    assert (
        body["papers"][0]["label"] == "进入测评" and body["papers"][0]["remaining_attempts"] == 20
    )
    assert body["verdict"]["result"] == "pending"


def test_start_needs_the_rules_ticked(candidate, exam):
    """(Consent and face verification come before: tests/camera/test_gate.py.)"""
    assert (
        start(candidate, exam["paper"].id, ack=False).get_json()["error"]["code"]
        == "rules_not_acknowledged"
    )
    assert start(candidate, exam["paper"].id).status_code == 201


def test_the_deadline_is_the_servers_and_never_past_the_window(candidate, exam, clock):
    body = start(candidate, exam["paper"].id).get_json()
    assert body["remaining_seconds"] == 60 * 60
    attempt = db.session.get(Attempt, body["id"])
    assert attempt.deadline_at == clock.now() + timedelta(minutes=60)
    # Near the window's close: the time left is capped (and shown before starting).
    ops.submit_attempt(attempt.id, now=clock.now(), reason=ops.SubmitReason.CANDIDATE)
    db.session.commit()
    clock.set(exam["window"].closes_at - timedelta(minutes=20))
    let_in(candidate)
    capped = start(candidate, exam["paper"].id).get_json()
    assert capped["remaining_seconds"] == 20 * 60


def test_allowance_extends_the_time(candidate, exam):
    exam["physician"].time_allowance_minutes = 15
    db.session.commit()
    assert start(candidate, exam["paper"].id).get_json()["remaining_seconds"] == 75 * 60


def test_a_second_start_resumes_the_open_attempt(candidate, exam):
    first = start(candidate, exam["paper"].id).get_json()
    second = start(candidate, exam["paper"].id).get_json()
    assert first["id"] == second["id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 1


def test_concurrent_starts_never_exceed_the_limit(app, exam, clock):
    exam["paper"].attempt_limit_simple = 1
    db.session.commit()
    physician_id, paper_id = exam["physician"].id, exam["paper"].id
    check_id = pass_gate(exam["physician"], "one-device", clock.now()).id
    db.session.commit()
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def start_unit() -> Attempt:  # what the start view does, as the request's unit runs it
        physician = db.session.get(Physician, physician_id)
        entry = gate_entry(db.session.get(EntryCheck, check_id))
        return ops.start_attempt(
            physician,
            paper_id,
            now=clock.now(),
            rules_acknowledged=True,
            entry=entry,
            allowance_cap=60,
        )

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                ids.append(uow.run(start_unit, uow.ATTEMPTS).id)
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(set(ids)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 1


def test_saves_are_ordered_by_seq_and_idempotent(candidate, exam):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    url = f"/api/v1/exam/attempts/{attempt_id}/answers/1"
    item = db.session.scalars(
        sa.select(AttemptItem).where(
            AttemptItem.attempt_id == attempt_id, AttemptItem.position == 1
        )
    ).one()
    a, b = sorted(item.question.data["options"])[:2]
    assert candidate.put(url, json={"response": a, "seq": 2}).get_json()["code"] == "saved"
    assert (
        candidate.put(url, json={"response": b, "seq": 1}).get_json()["code"] == "stale"
    )  # late, older
    assert (
        candidate.put(url, json={"response": a, "seq": 2}).get_json()["code"] == "stale"
    )  # replayed
    stored = db.session.scalars(sa.select(Answer).where(Answer.attempt_id == attempt_id)).one()
    assert (stored.response, stored.seq) == (a, 2)
    bad = candidate.put(url, json={"response": "Z", "seq": 3})
    assert bad.status_code == 409 and bad.get_json()["error"]["code"] == "bad_response"
    state = candidate.get(f"/api/v1/exam/attempts/{attempt_id}").get_json()
    assert state["items"][0]["response"] == a and state["last_seq"] == 2


def test_late_saves_only_when_journalled_in_time_and_within_grace(candidate, exam, clock, app):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    deadline = db.session.get(Attempt, attempt_id).deadline_at
    url = f"/api/v1/exam/attempts/{attempt_id}/answers/1"
    clock.set(deadline + timedelta(seconds=10))
    in_time = (deadline - timedelta(seconds=5)).isoformat()
    assert (
        candidate.put(url, json={"response": None, "seq": 1, "journaled_at": in_time}).get_json()[
            "code"
        ]
        == "late"
    )
    too_late = candidate.put(
        url, json={"response": None, "seq": 2, "journaled_at": deadline.isoformat()[:-6] + "+00:00"}
    )
    assert too_late.get_json()["code"] in (
        "late",
        "saved",
    )  # journalled exactly at the deadline still counts
    after = candidate.put(
        url,
        json={
            "response": None,
            "seq": 3,
            "journaled_at": (deadline + timedelta(seconds=1)).isoformat(),
        },
    )
    assert after.status_code == 409 and after.get_json()["error"]["code"] == "deadline_passed"
    clock.set(deadline + timedelta(seconds=app.config["ANSWER_GRACE_SECONDS"] + 1))
    beyond = candidate.put(url, json={"response": None, "seq": 4, "journaled_at": in_time})
    assert beyond.get_json()["error"]["code"] == "deadline_passed"


@pytest.mark.parametrize("after_grace", [timedelta(0), timedelta(microseconds=-1)])
def test_the_save_rule_and_the_sweeper_agree_on_overdue(candidate, exam, clock, app, after_grace):
    """One rule (``Attempt.overdue``): at the end of the grace a journalled save is refused
    exactly when the sweeper takes the attempt, and accepted exactly when it does not."""
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    deadline = db.session.get(Attempt, attempt_id).deadline_at
    grace = timedelta(seconds=app.config["ANSWER_GRACE_SECONDS"])
    clock.set(deadline + grace + after_grace)
    saved = candidate.put(
        f"/api/v1/exam/attempts/{attempt_id}/answers/1",
        json={
            "response": None,
            "seq": 1,
            "journaled_at": (deadline - timedelta(seconds=1)).isoformat(),
        },
    )
    swept = sweep()
    refused = saved.status_code == 409
    assert refused == (swept == 1), (saved.get_json(), swept)
    assert refused == (after_grace >= timedelta(0))


def test_submit_grades_once_and_says_so(candidate, exam):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    items = db.session.scalars(
        sa.select(AttemptItem)
        .where(AttemptItem.attempt_id == attempt_id)
        .order_by(AttemptItem.position)
    ).all()
    for seq, item in enumerate(items, start=1):
        candidate.put(
            f"/api/v1/exam/attempts/{attempt_id}/answers/{item.position}",
            json={"response": correct_response(item), "seq": seq},
        )
    result = candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit").get_json()
    assert result["result"]["score"] == 100.0 and result["result"]["passed"]
    again = candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit").get_json()
    assert again["result"]["submitted_at"] == result["result"]["submitted_at"]
    overview = candidate.get("/api/v1/exam").get_json()
    assert overview["papers"][0]["label"] == "合格" and overview["verdict"]["result"] == "pass"


def test_a_failed_attempt_may_be_retried_when_attempts_remain(candidate, exam):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    result = candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit").get_json()
    assert result["result"]["score"] == 0.0 and not result["result"]["passed"]
    assert result["can_retry"] and "您可以继续参加测评" in result["result"]["message"]
    refused = start(candidate, exam["paper"].id).get_json()  # each attempt verifies anew
    assert refused["error"]["code"] == "entry_check_required"
    let_in(candidate)
    assert start(candidate, exam["paper"].id).get_json()["number"] == 2


def test_general_procedure_has_one_attempt(candidate, exam):
    exam["physician"].procedure = Procedure.GENERAL
    db.session.commit()
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    result = candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit").get_json()
    assert not result["can_retry"] and "继续" not in result["result"]["message"]
    assert start(candidate, exam["paper"].id).status_code == 409


def test_sweeper_submits_once_at_the_deadline_with_nobody_connected(candidate, exam, clock, app):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    candidate.put(
        f"/api/v1/exam/attempts/{attempt_id}/answers/1",
        json={"response": None, "marked": True, "seq": 1},
    )
    deadline = db.session.get(Attempt, attempt_id).deadline_at
    clock.set(deadline)
    assert sweep() == 0  # the late-save grace is still running
    clock.set(deadline + timedelta(seconds=app.config["ANSWER_GRACE_SECONDS"]))
    assert sweep() == 1
    assert sweep() == 0
    attempt = db.session.get(Attempt, attempt_id, populate_existing=True)
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.submit_reason.value == "deadline"
    assert attempt.score == 0.0


def test_no_answer_key_reaches_the_candidate_before_submission(candidate, exam):
    body = start(candidate, exam["paper"].id).get_json()
    assert not {"answer", "answers", "explanation", "explanations"} & keys_in(body)
    state = candidate.get(f"/api/v1/exam/attempts/{body['id']}").get_json()
    assert not {"answer", "answers", "explanation", "explanations"} & keys_in(state)
    assert {item["type"] for item in state["items"]} <= set(QUESTION_TYPES)


def test_other_physicians_cannot_touch_my_attempt(app, candidate, exam):
    from tests.factories import create_physician

    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    other = create_physician(exam["cycle"], password="Right-Pass1")
    other.user.must_change_password = False
    db.session.commit()
    intruder = app.test_client()
    intruder.post("/login", data={"login": other.id_number, "password": "Right-Pass1"})
    assert intruder.get(f"/api/v1/exam/attempts/{attempt_id}").status_code == 404
    assert (
        intruder.put(f"/api/v1/exam/attempts/{attempt_id}/answers/1", json={"seq": 1}).status_code
        == 404
    )


@pytest.mark.parametrize("payload", [{"seq": 0}, {"seq": "x"}, {}])
def test_garbage_saves_are_refused(candidate, exam, payload):
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    response = candidate.put(f"/api/v1/exam/attempts/{attempt_id}/answers/1", json=payload)
    assert response.status_code == 422


def test_openapi_describes_only_real_endpoints(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    rules = {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods}
    for path, operations in spec["paths"].items():
        flask_path = path.replace("{", "<int:").replace("}", ">")
        for method in operations:
            assert (flask_path, method.upper()) in rules, (path, method)
    assert {"/api/v1/session", "/api/v1/exam"} <= set(spec["paths"])
    assert {"LoginBody", "StartBody", "AnswerBody", "Error"} <= set(spec["components"]["schemas"])


def test_each_feature_documents_only_its_own_endpoints(app):
    owner = {r.rule: r.endpoint.split(".")[0] for r in app.url_map.iter_rules()}
    for feature, part in (("accounts", ACCOUNTS), ("attempts", ATTEMPTS)):
        for path in part.paths:
            flask_path = path.replace("{", "<int:").replace("}", ">")
            assert app.blueprints[owner[flask_path]].import_name.startswith(
                f"examsvc.{feature}."
            ), (feature, path)


def test_result_notice_pdf_only_after_a_pass(candidate, exam, app, faces_photos, tmp_path):
    import shutil
    import subprocess

    from examsvc.roster import photos

    assert candidate.get("/results/notice.pdf").status_code == 403
    physician = exam["physician"]
    physician.photo_sha256 = photos.store(app.config["DATA_DIR"], faces_photos["obama"])
    db.session.commit()
    attempt_id = start(candidate, exam["paper"].id).get_json()["id"]
    items = db.session.scalars(
        sa.select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
    ).all()
    for seq, item in enumerate(items, start=1):
        candidate.put(
            f"/api/v1/exam/attempts/{attempt_id}/answers/{item.position}",
            json={"response": correct_response(item), "seq": seq},
        )
    candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit")
    page = candidate.get("/results").get_data(as_text=True)
    assert "打印考核结果通知书" in page
    response = candidate.get("/results/notice.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["Cache-Control"] == "private, no-store"
    app.config.update(OFFLOAD_THREADS=1, OFFLOAD_PROCESSES=1, OFFLOAD_QUEUE=0)
    offload.start(app)  # as under ``examsvc serve``: rendered in a worker process
    try:
        assert candidate.get("/results/notice.pdf").data.startswith(b"%PDF")
        assert offload.metrics()["processes"]["completed"] == 1  # type: ignore[index]
    finally:
        offload.stop()
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(response.data)
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext missing: scripts/bootstrap.sh --dev installs poppler-utils")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert physician.name in text and "考核结果：合格" in text and physician.id_number not in text
    assert physician.id_number[:3] + "*****" in text


def test_study_mode_is_never_counted(candidate, exam):
    import json
    import re

    from examsvc.banks.models import QuestionBank
    from examsvc.banks.operations import set_open_for_study
    from examsvc.study.operations import practice_set

    bank = db.session.scalars(sa.select(QuestionBank)).one()
    set_open_for_study(bank, True, actor_id=None, now=exam["window"].opens_at)
    db.session.commit()
    assert bank.name in candidate.get("/study").get_data(as_text=True)
    memorise = candidate.get(f"/study/{bank.id}?mode=memorise&seed=5").get_data(as_text=True)
    assert "正确答案" in memorise and "解析" in memorise
    practice = candidate.get(f"/study/{bank.id}?seed=5").get_data(as_text=True)
    assert "正确答案" not in practice
    # Submit the practice set with every answer right: 100, nothing stored.
    form = {"seed": "5"}
    for number, item in enumerate(practice_set(bank, 5), start=1):
        q = item.question
        answer = (
            {s["external_id"]: s["answer"] for s in q.data["sub_questions"]}
            if q.qtype in ("case", "matching")
            else q.data["answer"]
        )
        form[f"q{number}"] = json.dumps(answer)
    result = candidate.post(f"/study/{bank.id}", data=form).get_data(as_text=True)
    assert re.search(r"练习得分：100\.0", result)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0
    assert candidate.get("/api/v1/exam").get_json()["papers"][0]["remaining_attempts"] == 20


def test_the_candidate_is_told_before_starting_when_time_is_short(candidate, exam, clock):
    page = candidate.get(f"/exam/paper/{exam['paper'].id}").get_data(as_text=True)
    assert "考前须知" in page and "我已阅读并同意遵守上述规定" in page and "仅剩" not in page
    clock.set(exam["window"].closes_at - timedelta(minutes=25))
    let_in(candidate)  # the morning's verification no longer counts
    short = candidate.get(f"/exam/paper/{exam['paper'].id}").get_data(as_text=True)
    assert "距考试结束仅剩25分钟" in short
    started = candidate.post(f"/exam/paper/{exam['paper'].id}", data={"rules": "on"})
    assert started.status_code == 302 and "/exam/" in started.headers["Location"]


def test_a_bank_too_small_for_the_paper_refuses_the_start_in_words(candidate, exam, clock):
    create_bank(per_type=1, now=clock.now())  # a new version: 2 questions of each type
    db.session.commit()
    refused = start(candidate, exam["paper"].id)
    error = refused.get_json()["error"]
    assert refused.status_code == 409 and error["code"] == "paper_cannot_be_drawn"
    assert (
        error["message"].startswith("试卷无法组卷")
        and "需要 5 道题，题库中只有 2 道" in error["message"]
    )
    assert error["details"] and all("只有 2 道" in d["message"] for d in error["details"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0
    page = candidate.post(
        f"/exam/paper/{exam['paper'].id}", data={"rules": "on"}, follow_redirects=True
    )
    assert "试卷无法组卷，请联系考核机构：第 1 节" in page.get_data(as_text=True)
