"""The paper editor, preview and windows through HTTP and the command line."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from examsvc.banks.models import Question
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.operations import draw_questions
from tests.factories import create_cycle, login_as
from tests.factories_exam import create_bank, create_paper, create_window, paper_spec, paper_window
from tests.keys import assert_no_reprs, cards, expected_keys


def _form(spec) -> dict[str, str]:
    data = {
        "code": spec.code,
        "name": spec.name,
        "kind": spec.kind.value,
        "duration_minutes": str(spec.duration_minutes),
        "pass_mark": str(spec.pass_mark),
        "attempt_limit_simple": "20",
        "attempt_limit_general": "1",
        "shuffle_questions": "on",
        "shuffle_options": "on",
    }
    for i, s in enumerate(spec.sections):
        data |= {
            f"sections-{i}-title": s.title,
            f"sections-{i}-bank": s.bank,
            f"sections-{i}-qtype": s.qtype,
            f"sections-{i}-tags": ",".join(s.tags),
            f"sections-{i}-count": str(s.count),
            f"sections-{i}-points_per_item": str(s.points_per_item),
        }
    return data


def test_editor_saves_a_paper_and_previews_it_without_keys(client, clock):
    create_cycle()
    create_bank(now=clock.now())
    login_as(client)
    response = client.post("/admin/papers", data=_form(paper_spec()))
    assert response.status_code == 302
    paper = db.session.scalars(sa.select(Paper)).one()
    preview = client.get(f"/admin/papers/{paper.id}/preview").get_data(as_text=True)
    assert "单选题" in preview and "答案：" not in preview
    with_keys = client.get(f"/admin/papers/{paper.id}/preview?answers=1").get_data(as_text=True)
    assert "答案：" in with_keys


def test_the_preview_key_reads_in_the_letters_as_shown(client, clock):
    """「显示答案」: the letter of the right option as displayed, 对/错, per sub-question."""
    create_cycle()
    create_bank(now=clock.now())
    login_as(client)
    client.post("/admin/papers", data=_form(paper_spec()))
    paper = db.session.scalars(sa.select(Paper)).one()
    html = client.get(f"/admin/papers/{paper.id}/preview?seed=3&answers=1").get_data(as_text=True)
    items = draw_questions(paper, 3)
    shown = cards(html)
    assert len(shown) == len(items)
    for text, item in zip(shown, items, strict=True):
        keys = expected_keys(db.session.get(Question, item.question_id), item.option_order)
        assert text.count("正确答案：") == len(keys) and all(k in text for k in keys), text
        assert_no_reprs(text)
    assert any(o != sorted(o) for i in items for o in (i.option_order or {}).values())


def test_editor_shows_the_shortfall(client, clock):
    create_cycle()
    create_bank(now=clock.now(), per_type=2)
    login_as(client)
    response = client.post("/admin/papers", data=_form(paper_spec()))
    assert response.status_code == 422
    assert "只有 4 道，本节需要 5 道" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Paper)) == 0


def test_api_saves_papers_and_refuses_with_reasons(client, clock):
    create_cycle()
    create_bank(now=clock.now())
    login_as(client)
    good = client.post("/api/v1/admin/papers", json=paper_spec().model_dump(mode="json"))
    assert good.status_code == 201 and good.get_json()["sections"][0]["bank"] == "humanities"
    bad = client.post(
        "/api/v1/admin/papers", json={**paper_spec().model_dump(mode="json"), "pass_mark": 120}
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "pass_mark"


def test_windows_page_refuses_to_cut_running_attempts_short(client, clock):
    from tests.factories import create_physician
    from tests.papers.test_papers import _running_attempt

    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now() - timedelta(hours=1))
    _running_attempt(paper, window, create_physician(cycle), clock.now())
    db.session.commit()
    login_as(client)
    early = (clock.now() + timedelta(minutes=10)).astimezone().isoformat()
    refused = client.patch(f"/api/v1/admin/windows/{window.id}", json={"closes_at": early})
    assert refused.status_code == 409 and "正在进行" in refused.get_json()["error"]["message"]
    allowed = client.patch(
        f"/api/v1/admin/windows/{window.id}", json={"closes_at": early, "let_running_finish": True}
    )
    assert allowed.status_code == 200
    page = client.get("/admin/windows").get_data(as_text=True)
    assert "1 场测评进行中" in page


def test_windows_added_from_the_page_are_beijing_time(client, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    db.session.commit()
    login_as(client)
    client.post(
        "/admin/windows",
        data={
            "paper_id": str(paper.id),
            "round": "makeup",
            "opens_at": "2026-06-01T09:00",
            "closes_at": "2026-06-10T12:00",
        },
    )
    window = db.session.scalars(sa.select(ExamWindow)).one()
    assert window.round.value == "makeup" and window.opens_at.hour == 1  # 09:00 Beijing = 01:00 UTC


def test_cli_papers_and_windows(runner, clock, tmp_path):
    create_cycle()
    create_bank(now=clock.now())
    db.session.commit()
    spec = tmp_path / "papers.json"
    spec.write_text(
        json.dumps(
            [
                paper_spec().model_dump(mode="json"),
                paper_spec(code="PRO", prerequisite="HUM").model_dump(mode="json"),
            ]
        )
    )
    result = runner.invoke(args=["papers", "create", "--from-json", str(spec)])
    assert result.exit_code == 0, result.output
    assert (
        db.session.scalars(sa.select(Paper).where(Paper.code == "PRO")).one().prerequisite.code
        == "HUM"
    )
    preview = runner.invoke(args=["papers", "preview", "HUM", "--answers"])
    assert preview.exit_code == 0 and "答案：" in preview.output
    assert "KeyView" not in preview.output and "True" not in preview.output
    added = runner.invoke(
        args=[
            "windows",
            "add",
            "HUM",
            "--opens",
            "2026-05-11 09:00",
            "--closes",
            "2026-05-20 17:00",
        ]
    )
    assert added.exit_code == 0, added.output
    assert "2026-05-11 09:00" in runner.invoke(args=["windows", "list"]).output
    refused = runner.invoke(
        args=[
            "windows",
            "add",
            "HUM",
            "--opens",
            "2026-05-11 09:00",
            "--closes",
            "2026-05-10 17:00",
        ]
    )
    assert refused.exit_code != 0 and "结束时间须晚于开始时间" in refused.output
    times = ["--opens", "2026-06-01 09:00", "--closes", "2026-06-05 17:00", "--attempt-limit", "2"]
    refused = runner.invoke(args=["windows", "add", "HUM", *times])
    assert refused.exit_code != 0 and "只有补考时间可以单独设置可考次数" in refused.output
    added = runner.invoke(args=["windows", "add", "HUM", *times, "--makeup"])
    assert added.exit_code == 0, added.output
    assert "(limit 2)" in runner.invoke(args=["windows", "list"]).output


def test_audit_log_lists_changes_for_admins_only(client, clock):
    create_cycle()
    create_bank(now=clock.now())
    login_as(client)
    client.post("/api/v1/admin/papers", json=paper_spec().model_dump(mode="json"))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "保存试卷" in page and "paper.save" not in page
    other = client.application.test_client()
    login_as(other, Role.VIEWER)
    assert other.get("/admin/audit").status_code == 403


def test_malformed_window_input_is_a_clear_refusal_naming_the_field(client, clock):
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    window = create_window(paper, clock.now())
    db.session.commit()
    login_as(client)
    form = {"paper_id": str(paper.id), "opens_at": "2026-06-01T09:00"}
    page = client.post(
        "/admin/windows", data=form | {"round": "bogus", "closes_at": "2026-06-02T09:00"}
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "类型：“bogus” 不是允许的取值" in html
    assert 'value="2026-06-02T09:00"' in html and f'<option value="{paper.id}" selected>' in html
    no_paper = client.post("/admin/windows", data={"round": "makeup"})
    html = no_paper.get_data(as_text=True)
    assert no_paper.status_code == 422 and "试卷：必须填写" in html and "开始：必须填写" in html
    assert '<option value="makeup" selected>' in html
    backwards = client.post(
        "/admin/windows", data=form | {"round": "regular", "closes_at": "2026-05-01T09:00"}
    )
    assert backwards.status_code == 422 and "结束时间须晚于开始时间" in backwards.get_data(
        as_text=True
    )
    for body, field in (
        (["closes_at"], "(body)"),
        ({"closes_at": "2026-06-02T09:00"}, "closes_at"),  # no offset
        ({"closes_at": "2026-06-02T09:00+08:00", "opens_at": "明天"}, "opens_at"),
    ):
        response = client.patch(f"/api/v1/admin/windows/{window.id}", json=body)
        error = response.get_json()["error"]
        assert response.status_code == 422 and error["code"] == "invalid", body
        assert [d["field"] for d in error["details"]] == [field], body
    assert db.session.get(ExamWindow, window.id).closes_at == window.closes_at


def test_editor_names_each_bad_field_and_keeps_what_was_typed(client, clock):
    create_cycle()
    create_bank(now=clock.now())
    login_as(client)
    form = _form(paper_spec()) | {
        "code": "有 空格",
        "pass_mark": "",
        "sections-1-count": "0",
        "sections-2-tags": "医学伦理，卫生法规",
    }
    del form["shuffle_options"]  # unticked
    response = client.post("/admin/papers", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    problems = [line for line in html_lines(html) if "：" in line and "flash" in line]
    assert any("合格分数（满分100）：必须填写" in p for p in problems), problems
    assert any("第 2 行 题数：不能小于 1" in p for p in problems), problems
    assert any("试卷编号：" in p for p in problems), problems
    assert 'name="code" type="text" required value="有 空格"' in html
    assert 'name="sections-1-count" min="1" value="0"' in html
    assert 'value="医学伦理，卫生法规"' in html
    assert 'name="shuffle_questions" checked' in html
    assert 'name="shuffle_options" >' in html  # still unticked
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Paper)) == 0


def test_editor_reads_titles_tags_and_unticked_shuffles(client, clock):
    create_cycle()
    create_bank(now=clock.now())
    login_as(client)
    form = _form(paper_spec()) | {"sections-0-title": "", "sections-0-tags": "医学伦理，卫生法规"}
    del form["shuffle_questions"]
    assert client.post("/admin/papers", data=form).status_code == 302
    paper = db.session.scalars(sa.select(Paper)).one()
    assert paper.sections[0].title == "单选题" and paper.sections[0].tags == [
        "医学伦理",
        "卫生法规",
    ]
    assert (paper.shuffle_questions, paper.shuffle_options) == (False, True)
    assert len(paper.sections) == 5  # the three empty rows of the table are not sections


def html_lines(html: str) -> list[str]:
    return [line.strip() for line in html.splitlines()]


def test_a_refused_window_change_names_the_field_and_keeps_what_was_typed(client, clock):
    window = paper_window(clock.now())
    db.session.commit()
    login_as(client)
    data = {"opens_at": "2026-06-01T09:00", "closes_at": "六月", "let_running_finish": "on"}
    page = client.post(f"/admin/windows/{window.id}", data=data, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "结束：不是有效时间" in html and 'value="六月"' in html
    assert 'value="2026-06-01T09:00"' in html and 'name="let_running_finish" checked' in html
    assert db.session.get(ExamWindow, window.id).closes_at == window.closes_at
