"""The candidate's pages as served: what they say (the browser tests check what is seen)."""

from __future__ import annotations

import json
import re

from examsvc.attempts.sweeper import sweep
from examsvc.extensions import db
from tests.factories_exam import let_in
from tests.statements import recorded_statements

# Python reprs and the code's English words, which must never reach a candidate's page.
RAW = re.compile(
    r"\b(True|False|None|in_progress|submitted|voided|passed|pass|fail|pending|locked|exempt)\b"
    r"|<built-in|\{'|\[\]|\d\.0\b"
)


def text(response) -> str:
    """The page's words without markup and scripts."""
    assert response.status_code == 200, response.status_code
    html = re.sub(r"<script.*?</script>|<[^>]+>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html)


def submitted(candidate, paper_id: int) -> int:
    started = candidate.post(
        f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
    )
    attempt_id = started.get_json()["id"]
    assert candidate.post(f"/api/v1/exam/attempts/{attempt_id}/submit").status_code == 200
    return attempt_id


def test_the_rules_page_gives_the_papers_facts(candidate, exam):
    page = text(candidate.get(f"/exam/paper/{exam['paper'].id}"))
    for fact in ("共11题", "满分 100分", "合格分数线 60分", "考试时长 60分钟", "剩余20次"):
        assert fact in page, fact
    # The last of the four steps, after the camera's (tests/camera/test_gate.py).
    assert "1 设备调试 2 授权 3 人脸验证 4 考前须知" in page
    assert "考试过程中随机抓拍监考照片" in page and "不开启摄像头" not in page


def test_a_submitted_attempt_shows_the_result_alone(candidate, exam):
    attempt_id = submitted(candidate, exam["paper"].id)
    html = candidate.get(f"/exam/{attempt_id}").get_data(as_text=True)
    assert "交卷成功，您本次未达到分数线，您可以继续参加测评" in html and "再次测评" in html
    assert 'id="timer"' not in html and "exam.js" not in html and 'id="submit"' not in html
    assert 'class="question' not in html and 'type="radio"' not in html


def test_an_attempt_the_deadline_ended_says_so(candidate, exam, clock):
    started = candidate.post(
        f"/api/v1/exam/papers/{exam['paper'].id}/attempts", json={"rules_acknowledged": True}
    )
    clock.advance(hours=2)
    assert sweep() == 1
    page = text(candidate.get(f"/exam/{started.get_json()['id']}"))
    assert "考试时间到，系统已按已保存的答案自动交卷" in page and "成绩 0分" in page


def test_no_retry_is_offered_when_no_attempt_is_left(candidate, exam):
    exam["paper"].attempt_limit_simple = 1
    db.session.commit()
    attempt_id = submitted(candidate, exam["paper"].id)
    state = candidate.get(f"/api/v1/exam/attempts/{attempt_id}").get_json()  # as on a reload
    assert state["can_retry"] is False and "继续" not in state["result"]["message"]
    page = text(candidate.get(f"/exam/{attempt_id}"))
    assert "交卷成功，您本次未达到分数线" in page and "再次测评" not in page and "继续" not in page


def test_the_results_page_shows_states_not_actions(candidate, exam):
    before = text(candidate.get("/results"))
    assert "待考" in before and "进入测评" not in before
    submitted(candidate, exam["paper"].id)
    after = text(candidate.get("/results"))
    assert "未达到分数线-可继续测评" in after and "进入测评" not in after
    assert " 0分 " in after  # the score as written, not 0.0


def test_candidate_pages_show_no_code_words(candidate, exam):
    attempt_id = submitted(candidate, exam["paper"].id)
    let_in(candidate)
    for url in ("/home", "/results", f"/exam/paper/{exam['paper'].id}", f"/exam/{attempt_id}"):
        page = text(candidate.get(url))
        assert not RAW.search(page), (url, RAW.search(page))


def test_a_favicon_answers_and_every_page_links_it(client):
    def fetch(url: str) -> tuple[int, str, bytes]:
        with client.get(url) as response:  # a static file is streamed: close it
            return response.status_code, response.mimetype, response.data

    status, mimetype, data = fetch("/favicon.ico")
    assert status == 200 and mimetype.startswith("image/") and data
    login = client.get("/login").get_data(as_text=True)
    links = re.findall(r'<link rel="icon" href="([^"]+)"', login)
    assert len(links) == 2 and all(fetch(href)[0] == 200 for href in links)


def _exam_data(response) -> dict:
    assert response.status_code == 200, response.status_code
    found = re.search(
        r'<script type="application/json" id="exam-data">(.*?)</script>',
        response.get_data(as_text=True),
        re.S,
    )
    assert found is not None
    return json.loads(found.group(1))


def test_the_exam_page_gives_its_script_the_words_in_the_page_language(candidate, exam):
    started = candidate.post(
        f"/api/v1/exam/papers/{exam['paper'].id}/attempts", json={"rules_acknowledged": True}
    )
    page = f"/exam/{started.get_json()['id']}"
    chinese = _exam_data(candidate.get(page))["text"]
    assert chinese["saved"] == "已保存" and chinese["types"]["single"] == "单选题"
    candidate.set_cookie("lang", "en")
    english = _exam_data(candidate.get(page))["text"]
    assert english.keys() == chinese.keys()
    assert english["saved"] == "Saved" and english["types"]["single"] == "Single answer"
    assert "{n}" in english["unanswered"]  # filled by the script
    assert not any(re.search(r"[\u4e00-\u9fff]", v) for v in english.values() if isinstance(v, str))
    candidate.set_cookie("lang", "zh")  # each language its own, also once both were shown
    assert _exam_data(candidate.get(page))["text"] == chinese


def test_the_exam_page_reads_its_attempt_with_its_paper(candidate, exam):
    started = candidate.post(
        f"/api/v1/exam/papers/{exam['paper'].id}/attempts", json={"rules_acknowledged": True}
    )
    page = f"/exam/{started.get_json()['id']}"
    candidate.get(page)
    with recorded_statements() as seen:
        response = candidate.get(page)
    assert exam["paper"].name in response.get_data(as_text=True)
    # The user, the physician, the attempt with its paper, the entry gate.
    assert len(seen) == 4, seen
