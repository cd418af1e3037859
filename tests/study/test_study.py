"""我要学习: only banks the agency opened, keys in the letters as shown, and nothing at all
while the physician sits an attempt."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from examsvc.attempts.models import Attempt
from examsvc.audit.models import AuditEvent
from examsvc.banks.operations import set_open_for_study
from examsvc.extensions import db
from examsvc.study.operations import practice_set
from tests.html_text import visible_text
from tests.keys import assert_no_reprs, cards, expected_keys


def open_bank(bank) -> None:
    set_open_for_study(bank, True, actor_id=None, now=bank.created_at)
    db.session.commit()


def test_closed_banks_are_not_offered(candidate, exam):
    page = visible_text(candidate.get("/study").get_data(as_text=True))
    assert "考核机构暂未开放可供学习的题库" in page and "医学人文题库" not in page
    assert candidate.get(f"/study/{exam['bank'].id}?mode=memorise").status_code == 404


def test_memorise_shows_the_key_in_the_letters_as_shown(candidate, exam):
    open_bank(exam["bank"])
    assert "医学人文题库" in visible_text(candidate.get("/study").get_data(as_text=True))
    html = candidate.get(f"/study/{exam['bank'].id}?mode=memorise&seed=7").get_data(as_text=True)
    items = practice_set(exam["bank"], 7)
    shown = cards(html)
    assert len(shown) == len(items) == 20
    shuffled = 0
    for text, item in zip(shown, items, strict=True):
        keys = expected_keys(item.question, item.order)
        assert text.count("正确答案：") == len(keys) and all(k in text for k in keys), text
        shuffled += any(o != sorted(o) for o in item.order.values())
        assert_no_reprs(text)
    assert shuffled  # the options really were shuffled, so the letters are tested


def test_the_practice_result_shows_the_chosen_answer_beside_the_key(candidate, exam):
    open_bank(exam["bank"])
    items = practice_set(exam["bank"], 11)
    form: dict[str, str] = {"seed": "11"}
    for number, item in enumerate(items, start=1):
        if item.question.qtype == "single":  # the option shown first
            form[f"q{number}"] = json.dumps(item.order[""][0])
        elif item.question.qtype == "true_false":
            form[f"q{number}"] = "true"
    html = candidate.post(f"/study/{exam['bank'].id}", data=form).get_data(as_text=True)
    assert "练习得分" in visible_text(html)
    for text, item in zip(cards(html), items, strict=True):
        keys = expected_keys(item.question, item.order)
        if item.question.qtype == "single":
            verdict = "正确" if keys[0] == "正确答案：A" else "错误"
            assert f"{verdict} " in text and f"你的答案：A {keys[0]}" in text, text
        elif item.question.qtype == "true_false":
            assert f"你的答案：对 {keys[0]}" in text, text
        else:
            assert all(f"你的答案：未作答 {k.split()[-1]}" in text for k in keys), text
        assert_no_reprs(text)


@pytest.mark.parametrize(
    "raw",
    ["not json", "[" * 50_000, '{"x": 1}'],
    ids=["not-json", "nested-50000", "wrong-shape"],
)
def test_a_malformed_answer_is_a_clear_400(candidate, exam, raw):
    open_bank(exam["bank"])
    response = candidate.post(f"/study/{exam['bank'].id}", data={"seed": "3", "q1": raw})
    assert response.status_code == 400
    assert "第 1 题的作答格式不正确" in visible_text(response.get_data(as_text=True))


def study_requests(app, ids: list[int], seed: int) -> list[tuple[str, str, dict[str, str]]]:
    """Every study route (whatever it is called), with every id we know, as GET and POST, in
    practice and in 背题 mode, with the attempt's own seed."""
    adapter = app.url_map.bind("localhost")
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("study."):
            continue
        values_list: list[dict[str, Any]] = [{}]
        for arg in rule.arguments:
            values_list = [v | {arg: i} for v in values_list for i in ids]
        for values in values_list:
            url = adapter.build(rule.endpoint, values)
            for query in ("", f"?seed={seed}", f"?mode=memorise&seed={seed}"):
                for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                    form = {"seed": str(seed), "q1": '"A"'} if method == "POST" else {}
                    out.append((method, url + query, form))
    return out


def test_no_key_of_a_live_paper_is_reachable_while_an_attempt_is_open(app, candidate, exam):
    """The agency opened the exam bank itself for study (the worst case)."""
    open_bank(exam["bank"])
    ids = sorted({exam["bank"].id, exam["paper"].id})
    before = [
        candidate.open(url, method=method, data=form).get_data(as_text=True)
        for method, url, form in study_requests(app, ids, 1)
    ]
    assert any("解析·" in page for page in before)  # the walk reaches keys when allowed

    started = candidate.post(
        f"/api/v1/exam/papers/{exam['paper'].id}/attempts", json={"rules_acknowledged": True}
    )
    assert started.status_code == 201
    attempt = db.session.get(Attempt, started.get_json()["id"])
    secrets: list[str] = []
    for item in attempt.items:
        data = item.question.data
        secrets += [data["stem"], data.get("explanation") or data["stem"]]
        for sub in data.get("sub_questions") or []:
            secrets += [sub["explanation"]]
    assert len(secrets) > 20
    walked = study_requests(app, ids, attempt.seed)
    for method, url, form in walked:
        response = candidate.open(url, method=method, data=form)
        page = response.get_data(as_text=True)
        leaked = [s for s in secrets if s in page]
        assert not leaked and "正确答案" not in page and "答案：" not in page, (method, url, leaked)
        assert response.status_code in (404, 405, 409), (method, url)
    closed = visible_text(candidate.get("/study").get_data(as_text=True))
    assert "您有正在进行的测评" in closed and "交卷前不能使用" in closed and "返回测评" in closed

    # After 交卷, study mode is back.
    candidate.post(f"/api/v1/exam/attempts/{attempt.id}/submit", json={})
    assert (
        db.session.scalar(sa.select(Attempt.status).where(Attempt.id == attempt.id)).value
        == "submitted"
    )
    assert candidate.get("/study").status_code == 200


def test_the_agency_decides_which_banks_are_open(client, exam):
    from examsvc.enums import Role
    from tests.factories import login_as

    login_as(client, Role.VIEWER)
    bank = exam["bank"]
    assert client.post(f"/admin/banks/{bank.id}/study", data={"open": "1"}).status_code == 403
    login_as(client, Role.ADMIN)
    page = visible_text(client.get(f"/admin/banks/{bank.id}").get_data(as_text=True))
    assert "未开放学习" in page and "HUM 测评试卷" in page
    response = client.post(f"/admin/banks/{bank.id}/study", data={"open": "1"})
    assert response.status_code == 302
    page = visible_text(client.get(f"/admin/banks/{bank.id}").get_data(as_text=True))
    assert "已开放学习" in page and "关闭学习" in page and "医师考前即可看到这些题目的答案" in page
    events = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_id == bank.code)
    ).all()
    assert "bank.study_open" in events


def test_professional_banks_only_for_their_practice_category(candidate, exam, clock):
    from examsvc.enums import PaperKind, PracticeCategory
    from tests.factories_exam import create_bank

    for code, category in (("prof-clinical", "clinical"), ("prof-dental", "dental")):
        bank = create_bank(
            code, PaperKind.PROFESSIONAL, PracticeCategory(category), per_type=1, now=clock.now()
        ).bank
        open_bank(bank)
    page = visible_text(candidate.get("/study").get_data(as_text=True))
    assert "prof-clinical 题库" in page and "prof-dental 题库" not in page  # a clinical physician
