"""The invigilators' wall over real HTTP and a real Socket.IO test client: who may watch
which session, live cards after commit (never on rollback), the evidence URLs, the actions
(warning, void, review) and the timeline's words."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from examsvc import uow
from examsvc.attempts.events import NAMESPACE as EXAM
from examsvc.audit.models import AuditEvent
from examsvc.camera.models import (
    ClientEventKind,
    EntryCheck,
    EntryOutcome,
    Snapshot,
    SnapshotStatus,
)
from examsvc.enums import AttemptStatus, Role
from examsvc.extensions import db, socketio
from examsvc.invigilation import queries
from examsvc.invigilation.events import NAMESPACE  # registers the handlers before any app
from examsvc.invigilation.models import ProctorWarning
from examsvc.signals import attempt_changed
from tests.factories import create_user
from tests.html_text import visible_text
from tests.invigilation.factories import (
    PASSWORD,
    create_entry_check,
    create_event,
    create_hall,
    create_override,
    create_snapshot,
    log_in,
)
from tests.statements import recorded_statements

JPEG = b"\xff\xd8\xff\xe0" + b"a snapshot" * 20


@pytest.fixture
def hall(app, clock):
    return create_hall(clock.now())


def wall_socket(app, client):
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)


def candidate_events(ws, name="candidate"):
    return [m["args"][0] for m in ws.get_received(NAMESPACE) if m["name"] == name]


def audit(action):
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


# --- who may watch ------------------------------------------------------------------------


def test_an_invigilator_joins_their_own_session_and_is_refused_another(app, hall):
    mine = log_in(app.test_client(), hall.mine)
    ws = wall_socket(app, mine)
    assert ws.is_connected(NAMESPACE)
    ack = ws.emit("join", {"session_id": hall.session.id}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is True
    assert [c["name"] for c in ack["cards"]] == ["张三", "李四", "王五"]
    refused = ws.emit("join", {"session_id": hall.other.id}, namespace=NAMESPACE, callback=True)
    assert refused == {
        "ok": False,
        "status": 403,
        "error": {"code": "forbidden", "message": "您不是该场次的监考人员", "details": []},
    }
    missing = ws.emit("join", {"session_id": 999999}, namespace=NAMESPACE, callback=True)
    assert missing["status"] == 404 and missing["error"]["code"] == "not_found"
    bad = ws.emit("join", {"session_id": "x"}, namespace=NAMESPACE, callback=True)
    assert bad["status"] == 422 and bad["error"]["code"] == "invalid"
    # A change in the refused session never reaches this wall.
    with uow.unit_of_work():
        attempt_changed.send(hall.attempt_c.id)
    assert candidate_events(ws) == []
    ws.disconnect(NAMESPACE)


def test_an_administrator_joins_any_session(app, hall):
    admin = create_user(Role.ADMIN, password=PASSWORD)
    db.session.commit()
    ws = wall_socket(app, log_in(app.test_client(), admin))
    for session_id in (hall.session.id, hall.other.id):
        ack = ws.emit("join", {"session_id": session_id}, namespace=NAMESPACE, callback=True)
        assert ack["ok"] is True
    ws.disconnect(NAMESPACE)


def test_physicians_viewers_and_strangers_cannot_connect(app, hall):
    viewer = create_user(Role.VIEWER, password=PASSWORD)
    fresh = create_user(Role.INVIGILATOR, password=PASSWORD, must_change_password=True)
    db.session.commit()
    for client in (
        app.test_client(),
        log_in(app.test_client(), hall.a.user),
        log_in(app.test_client(), viewer),
        log_in(app.test_client(), fresh),  # the initial password not changed yet
    ):
        ws = wall_socket(app, client)
        assert not ws.is_connected(NAMESPACE)


def test_the_wall_page_is_for_the_session_s_own_invigilators(app, hall, clock):
    create_snapshot(hall.attempt_b, clock.now(), SnapshotStatus.MULTIPLE_FACES)
    db.session.commit()
    mine = log_in(app.test_client(), hall.mine)
    page = mine.get(f"/invigilate/sessions/{hall.session.id}")
    assert page.status_code == 200
    text = visible_text(page.get_data(as_text=True))
    # Most serious first: 李四 (two faces), 张三 (in progress), 王五 (not started).
    assert text.index("李四") < text.index("张三") < text.index("王五")
    assert "多张人脸" in text and "答题中" in text and "未开始" in text
    assert hall.a.id_number not in text and queries.mask(hall.a.id_number) in text
    assert "赵六" not in text
    assert mine.get(f"/invigilate/sessions/{hall.other.id}").status_code == 403
    assert mine.get("/invigilate/sessions/999999").status_code == 404
    assert mine.get("/invigilate/attempts/999999").status_code == 404
    assert mine.get(f"/invigilate/attempts/{hall.attempt_c.id}").status_code == 403
    physician = log_in(app.test_client(), hall.a.user)
    assert physician.get(f"/invigilate/sessions/{hall.session.id}").status_code == 403
    anonymous = app.test_client().get(f"/invigilate/sessions/{hall.session.id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    sessions = visible_text(mine.get("/invigilate").get_data(as_text=True))
    assert "第一考场" in sessions and "第二考场" not in sessions
    assert "打开监考墙" in visible_text(mine.get("/admin").get_data(as_text=True))


# --- live cards -----------------------------------------------------------------------------


def test_a_change_arrives_as_the_candidate_s_card_after_commit_and_never_on_rollback(
    app, hall, clock
):
    ws = wall_socket(app, log_in(app.test_client(), hall.mine))
    ws.emit("join", {"session_id": hall.session.id}, namespace=NAMESPACE, callback=True)
    ws.get_received(NAMESPACE)

    with pytest.raises(RuntimeError), uow.unit_of_work():
        create_snapshot(hall.attempt_a, clock.now(), SnapshotStatus.MISMATCH)
        attempt_changed.send(hall.attempt_a.id)
        raise RuntimeError("the unit fails")
    assert candidate_events(ws) == []

    with uow.unit_of_work():
        create_snapshot(
            hall.attempt_a, clock.now(), SnapshotStatus.MISMATCH, JPEG, app.config["DATA_DIR"]
        )
        create_event(hall.attempt_a, ClientEventKind.DISCONNECTED, clock.now())
        attempt_changed.send(hall.attempt_a.id)
        attempt_changed.send(hall.attempt_a.id)  # announced twice, pushed once
        assert candidate_events(ws) == []  # not before the commit
    [message] = candidate_events(ws)
    card = message["card"]
    assert card["physician_id"] == hall.a.id and card["attempt_id"] == hall.attempt_a.id
    assert card["name"] == "张三" and card["masked_id"] == queries.mask(hall.a.id_number)
    assert card["state"] == "in_progress" and card["remaining_seconds"] == 3600
    assert card["flags"] == [{"code": "mismatch", "count": 1}]
    # Codes only: walls of one room may be in different languages; each page has the words.
    assert not any(key.endswith("label") for key in card)
    assert card["connection"] == "disconnected"
    assert card["camera"] == "on" and card["thumb"] and card["order"] == 0

    with uow.unit_of_work():
        create_event(
            hall.attempt_a, ClientEventKind.RECONNECTED, clock.now() + timedelta(seconds=5)
        )
        attempt_changed.send(hall.attempt_a.id)
    [message] = candidate_events(ws)
    assert message["card"]["connection"] == "connected"
    ws.disconnect(NAMESPACE)


def test_a_submission_moves_the_card_to_the_end(app, hall, clock):
    from examsvc.attempts.operations import submit_attempt
    from examsvc.enums import SubmitReason

    ws = wall_socket(app, log_in(app.test_client(), hall.mine))
    ws.emit("join", {"session_id": hall.session.id}, namespace=NAMESPACE, callback=True)
    with uow.unit_of_work():
        submit_attempt(hall.attempt_b.id, now=clock.now(), reason=SubmitReason.CANDIDATE)
    [message] = candidate_events(ws)
    assert message["card"]["state"] == "submitted"
    assert message["card"]["order"] == 59 and message["card"]["remaining_seconds"] is None
    ws.disconnect(NAMESPACE)


# --- evidence URLs ----------------------------------------------------------------------------


def test_a_snapshot_url_needs_a_valid_token_and_a_viewer_of_that_candidate(
    app, hall, clock, monkeypatch
):
    data_dir = app.config["DATA_DIR"]
    snapshot = create_snapshot(hall.attempt_a, clock.now(), SnapshotStatus.OK, JPEG, data_dir)
    purged = create_snapshot(hall.attempt_a, clock.now() - timedelta(minutes=5), SnapshotStatus.OK)
    db.session.commit()
    mine = log_in(app.test_client(), hall.mine)
    [card] = [c for c in queries.cards(hall.session, clock.now()) if c.physician_id == hall.a.id]
    url = f"/invigilate/evidence/{card.thumb}"
    response = mine.get(url)
    assert response.status_code == 200 and response.data == JPEG
    assert response.mimetype == "image/jpeg"
    assert "no-store" in response.headers["Cache-Control"]

    # The same valid token in another invigilator's session, a physician's, nobody's: refused.
    theirs = log_in(app.test_client(), hall.theirs)
    refused = theirs.get(url)
    assert refused.status_code == 403 and refused.data != JPEG
    assert "您不是该考生所在场次的监考人员" in visible_text(refused.get_data(as_text=True))
    assert log_in(app.test_client(), hall.a.user).get(url).status_code == 403
    assert app.test_client().get(url).status_code == 302
    # A forged or altered token, and one older than EVIDENCE_URL_SECONDS.
    assert mine.get(url[:-3] + "abc").status_code == 403
    from examsvc.invigilation import evidence

    with app.test_request_context():
        other_url = f"/invigilate/evidence/{evidence.token('snapshot', purged.id)}"
    assert mine.get(other_url).status_code == 404  # purged: path None
    later = int(time.time()) + app.config["EVIDENCE_URL_SECONDS"] + 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    expired = mine.get(url)
    assert expired.status_code == 403
    assert "图片链接已过期" in visible_text(expired.get_data(as_text=True))
    assert snapshot.id


def test_entry_frames_and_the_registration_photo_follow_the_same_rule(
    app, hall, clock, faces_photos
):
    from examsvc.enums import PhotoStatus
    from examsvc.invigilation import evidence
    from examsvc.roster import photos

    data_dir = app.config["DATA_DIR"]
    hall.a.photo_sha256 = photos.store(data_dir, faces_photos["obama"])
    hall.a.photo_status = PhotoStatus.OK
    check = create_entry_check(
        hall.a, hall.paper, clock.now(), EntryOutcome.REVIEW, [faces_photos["obama"]], data_dir
    )
    db.session.commit()
    tokens = [evidence.token("photo", hall.a.id), evidence.token("frame", check.id, 0)]
    mine = log_in(app.test_client(), hall.mine)
    theirs = log_in(app.test_client(), hall.theirs)
    for token in tokens:
        response = mine.get(f"/invigilate/evidence/{token}")
        assert response.status_code == 200 and response.data == faces_photos["obama"]
        assert "no-store" in response.headers["Cache-Control"]
        assert theirs.get(f"/invigilate/evidence/{token}").status_code == 403
    missing_frame = evidence.token("frame", check.id, 3)
    assert mine.get(f"/invigilate/evidence/{missing_frame}").status_code == 404


# --- actions ------------------------------------------------------------------------------------


def exam_socket(app, physician):
    return socketio.test_client(
        app, namespace=EXAM, flask_test_client=log_in(app.test_client(), physician.user)
    )


def test_a_warning_reaches_the_candidate_at_once_and_is_recorded(app, hall, clock):
    candidate = exam_socket(app, hall.a)
    bystander = exam_socket(app, hall.b)
    mine = log_in(app.test_client(), hall.mine)
    ws = wall_socket(app, mine)
    ws.emit("join", {"session_id": hall.session.id}, namespace=NAMESPACE, callback=True)
    response = mine.post(
        f"/invigilate/attempts/{hall.attempt_a.id}/warning", data={"message": "请保持面部在画面内"}
    )
    assert response.status_code == 302
    [warning] = db.session.scalars(sa.select(ProctorWarning)).all()
    assert warning.attempt_id == hall.attempt_a.id and warning.sent_by == hall.mine.id
    [received] = [m for m in candidate.get_received(EXAM) if m["name"] == "warning"]
    assert received["args"][0] == {
        "id": warning.id,
        "message": "请保持面部在画面内",
        "sent_at": clock.now().isoformat(),
    }
    assert bystander.get_received(EXAM) == []
    [event] = audit("proctor.warn")
    assert event.actor_id == hall.mine.id and event.object_id == str(hall.attempt_a.id)
    assert len(candidate_events(ws)) == 1
    # Over the socket too; an empty message is refused in the one error shape.
    ack = ws.emit(
        "warn",
        {"attempt_id": hall.attempt_a.id, "message": "请勿离开座位"},
        namespace=NAMESPACE,
        callback=True,
    )
    assert ack["ok"] is True
    assert [m["args"][0]["message"] for m in candidate.get_received(EXAM)] == ["请勿离开座位"]
    empty = ws.emit(
        "warn",
        {"attempt_id": hall.attempt_a.id, "message": " "},
        namespace=NAMESPACE,
        callback=True,
    )
    assert empty["status"] == 422 and empty["error"]["code"] == "message_required"
    timeline = visible_text(
        mine.get(f"/invigilate/attempts/{hall.attempt_a.id}").get_data(as_text=True)
    )
    assert "已发送提醒（监考甲）：请保持面部在画面内" in timeline
    candidate.disconnect(EXAM)
    bystander.disconnect(EXAM)
    ws.disconnect(NAMESPACE)


def test_a_warning_with_a_nul_character_is_refused_or_stored_never_a_500(app, hall):
    """PostgreSQL refuses a NUL character in text (a ``DataError``): 422 ``invalid`` over
    HTTP and over the socket alike (one mapping), nothing stored or told. SQLite stores it:
    the warning reads back, and reaches the candidate, as it was sent."""
    candidate = exam_socket(app, hall.a)
    mine = log_in(app.test_client(), hall.mine)
    ws = wall_socket(app, mine)
    text = "请勿\x00离开座位"
    page = mine.post(f"/invigilate/attempts/{hall.attempt_a.id}/warning", data={"message": text})
    ack = ws.emit(
        "warn",
        {"attempt_id": hall.attempt_a.id, "message": text},
        namespace=NAMESPACE,
        callback=True,
    )
    stored = db.session.scalars(sa.select(ProctorWarning.message)).all()
    told = [m["args"][0]["message"] for m in candidate.get_received(EXAM) if m["name"] == "warning"]
    if db.engine.dialect.name == "postgresql":
        assert page.status_code == 422 and "无法保存的字符" in page.get_data(as_text=True)
        assert ack == {
            "ok": False,
            "status": 422,
            "error": {
                "code": "invalid",
                "message": "提交的内容含有无法保存的字符或数值，请检查后重试",
                "details": [],
            },
        }
        assert stored == [] and told == [] and audit("proctor.warn") == []
    else:
        assert page.status_code == 302 and ack["ok"] is True
        assert stored == [text, text] and told == [text, text]
    # The connection lives on: the next warning is sent.
    good = ws.emit(
        "warn",
        {"attempt_id": hall.attempt_a.id, "message": "请勿离开座位"},
        namespace=NAMESPACE,
        callback=True,
    )
    assert good["ok"] is True
    candidate.disconnect(EXAM)
    ws.disconnect(NAMESPACE)


def test_voiding_needs_a_reason_tells_the_candidate_and_shows_on_their_results(app, hall, clock):
    candidate = exam_socket(app, hall.a)
    mine = log_in(app.test_client(), hall.mine)
    url = f"/invigilate/attempts/{hall.attempt_a.id}/void"
    refused = mine.post(url, data={"reason": " "}, follow_redirects=True)
    assert "请填写作废原因" in visible_text(refused.get_data(as_text=True))
    db.session.expire_all()
    assert hall.attempt_a.status == AttemptStatus.IN_PROGRESS
    assert candidate.get_received(EXAM) == []

    done = mine.post(url, data={"reason": "他人代考"}, follow_redirects=True)
    text = visible_text(done.get_data(as_text=True))
    assert "该考生本次测评已作废" in text and "违纪作废" in text and "他人代考" in text
    db.session.expire_all()
    assert (
        hall.attempt_a.status == AttemptStatus.VOIDED and hall.attempt_a.void_reason == "他人代考"
    )
    [received] = candidate.get_received(EXAM)
    assert received["name"] == "voided"
    assert received["args"][0] == {"attempt_id": hall.attempt_a.id, "reason": "他人代考"}
    [event] = audit("attempt.void")
    assert event.actor_id == hall.mine.id and event.detail["reason"] == "他人代考"
    # Once over: a second void is refused and nothing more is sent.
    again = mine.post(url, data={"reason": "再次"}, follow_redirects=True)
    assert "该考生的测评已结束" in visible_text(again.get_data(as_text=True))
    assert candidate.get_received(EXAM) == []
    # The candidate's results page says so in the manuals' words.
    physician = log_in(app.test_client(), hall.a.user)
    assert "违纪终止" in visible_text(physician.get("/results").get_data(as_text=True))
    home = visible_text(physician.get("/home").get_data(as_text=True))
    assert "违纪终止 上次测评因违纪被终止：他人代考" in home
    # The audit log shows it in words.
    admin = create_user(Role.ADMIN, password=PASSWORD)
    db.session.commit()
    log = visible_text(log_in(app.test_client(), admin).get("/admin/audit").get_data(as_text=True))
    assert "违纪作废测评" in log and "他人代考" in log
    candidate.disconnect(EXAM)


def test_only_an_invigilator_of_the_attempt_s_session_may_act(app, hall):
    candidate = exam_socket(app, hall.a)
    theirs = log_in(app.test_client(), hall.theirs)
    for path, data in (("warning", {"message": "你好"}), ("void", {"reason": "他人代考"})):
        response = theirs.post(f"/invigilate/attempts/{hall.attempt_a.id}/{path}", data=data)
        assert response.status_code == 403
    ws = wall_socket(app, theirs)
    for event, data in (("warn", {"message": "你好"}), ("void", {"reason": "他人代考"})):
        ack = ws.emit(
            event, {"attempt_id": hall.attempt_a.id, **data}, namespace=NAMESPACE, callback=True
        )
        assert ack["status"] == 403 and ack["error"]["code"] == "forbidden"
    db.session.expire_all()
    assert hall.attempt_a.status == AttemptStatus.IN_PROGRESS
    assert db.session.scalars(sa.select(ProctorWarning)).all() == []
    assert candidate.get_received(EXAM) == []
    # Over the socket, the session's own invigilator may void.
    mine = wall_socket(app, log_in(app.test_client(), hall.mine))
    ack = mine.emit(
        "void",
        {"attempt_id": hall.attempt_a.id, "reason": "多次离开座位"},
        namespace=NAMESPACE,
        callback=True,
    )
    assert ack == {"ok": True}
    assert [m["name"] for m in candidate.get_received(EXAM)] == ["voided"]
    candidate.disconnect(EXAM)
    ws.disconnect(NAMESPACE)
    mine.disconnect(NAMESPACE)


def test_reviewing_a_flag_clears_it_from_the_card(app, hall, clock):
    flagged = create_snapshot(hall.attempt_a, clock.now(), SnapshotStatus.NO_FACE)
    check = create_entry_check(
        hall.a, hall.paper, clock.now(), EntryOutcome.REVIEW, [JPEG], app.config["DATA_DIR"]
    )
    db.session.commit()
    flagged_id, check_id = flagged.id, check.id
    [card] = queries.cards(hall.session, clock.now(), [hall.a.id])
    assert [f[0] for f in card.flags] == ["no_face", "entry_review"]
    mine = log_in(app.test_client(), hall.mine)
    ws = wall_socket(app, mine)
    ws.emit("join", {"session_id": hall.session.id}, namespace=NAMESPACE, callback=True)
    mine.post(f"/invigilate/snapshots/{flagged_id}/review", data={"note": "低头看题"})
    [message] = candidate_events(ws)
    assert [f["code"] for f in message["card"]["flags"]] == ["entry_review"]
    refused = mine.post(
        f"/invigilate/entry-checks/{check_id}/review/{hall.attempt_a.id}", data={"verdict": "maybe"}
    )
    assert refused.status_code == 302
    assert db.session.get(EntryCheck, check_id).reviewed_at is None
    mine.post(
        f"/invigilate/entry-checks/{check_id}/review/{hall.attempt_a.id}",
        data={"verdict": "same", "note": "与报名照片一致"},
    )
    [message] = candidate_events(ws)
    assert message["card"]["flags"] == []
    flagged, check = db.session.get(Snapshot, flagged_id), db.session.get(EntryCheck, check_id)
    assert flagged.reviewed_by == hall.mine.id and flagged.review_note == "低头看题"
    assert check.review_verdict == "same" and check.reviewed_by == hall.mine.id
    assert len(audit("proctor.review")) == 1 and len(audit("proctor.entry_review")) == 1
    theirs = log_in(app.test_client(), hall.theirs)
    assert (
        theirs.post(f"/invigilate/snapshots/{flagged.id}/review", data={"note": "x"}).status_code
        == 403
    )
    ws.disconnect(NAMESPACE)


# --- the timeline -----------------------------------------------------------------------------


def test_the_timeline_says_everything_in_words_and_logs_the_viewer(app, hall, clock, faces_photos):
    from examsvc.enums import PhotoStatus
    from examsvc.roster import photos

    data_dir = app.config["DATA_DIR"]
    admin = create_user(Role.ADMIN, password=PASSWORD, display_name="管理员甲")
    hall.a.photo_sha256 = photos.store(data_dir, faces_photos["obama"])
    hall.a.photo_status = PhotoStatus.OK
    t = clock.now()
    create_entry_check(
        hall.a,
        hall.paper,
        t - timedelta(minutes=2),
        EntryOutcome.REVIEW,
        [faces_photos["obama"], faces_photos["obama"]],
        data_dir,
        distance=0.53,
    )
    create_override(hall.a, admin, t - timedelta(minutes=3), "报名照片过旧，已电话核实")
    statuses = [
        SnapshotStatus.OK,
        SnapshotStatus.NO_FACE,
        SnapshotStatus.MULTIPLE_FACES,
        SnapshotStatus.MISMATCH,
        SnapshotStatus.COVERED,
        SnapshotStatus.POOR_CAMERA,
        SnapshotStatus.PENDING,
    ]
    for n, status in enumerate(statuses):
        create_snapshot(
            hall.attempt_a,
            t + timedelta(minutes=n),
            status,
            JPEG,
            data_dir,
            distance=0.61 if status == SnapshotStatus.MISMATCH else None,
            measurements={
                "face_count": 2 if status == SnapshotStatus.MULTIPLE_FACES else 1,
                "brightness": 120.5,
            },
        )
    purged = create_snapshot(hall.attempt_a, t + timedelta(minutes=9), SnapshotStatus.OK)
    for n, kind in enumerate(ClientEventKind):
        create_event(hall.attempt_a, kind, t + timedelta(minutes=10, seconds=n))
    db.session.commit()
    mine = log_in(app.test_client(), hall.mine)
    response = mine.get(f"/invigilate/attempts/{hall.attempt_a.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = visible_text(html)
    for words in (
        "张三",
        "正常",
        "未检测到人脸（离开座位）",
        "多张人脸",
        "疑似非本人",
        "面部遮挡",
        "摄像头画面不佳",
        "待分析",
        "抓拍已按保留期限删除",
        "页面切到后台",
        "返回页面",
        "摄像头中断",
        "断开连接",
        "重新连接",
        "退出全屏",
        "待人工复核",
        "与报名照片的差异 0.53",
        "报名照片",
        "入场画面 1",
        "入场画面 2",
        "管理员放行：管理员甲",
        "报名照片过旧，已电话核实",
        "人脸数 2",
        "与入场照片的差异 0.61",
        "亮度 120.5",
        "发送提醒",
        "作废本次测评",
    ):
        assert words in text, words
    assert "mismatch" not in text and "no_face" not in text and "None" not in text
    assert hall.a.id_number not in html
    assert html.count("/invigilate/evidence/") == 3 + len(statuses)  # photo, 2 frames, snapshots
    [viewed] = audit("proctor.view")
    assert viewed.actor_id == hall.mine.id and viewed.object_id == str(hall.attempt_a.id)
    assert purged.path is None
    refused = log_in(app.test_client(), hall.theirs).get(
        f"/invigilate/attempts/{hall.attempt_a.id}"
    )
    assert refused.status_code == 403
    assert len(audit("proctor.view")) == 1


def test_the_wall_costs_the_same_queries_for_forty_candidates_as_for_three(app, hall, clock):
    """No query per candidate: a wall of 40 is as cheap to build as a wall of 3."""
    from examsvc.invigilation import operations as ops
    from tests.factories import create_physician
    from tests.invigilation.factories import create_attempt

    def count_queries() -> int:
        db.session.expire_all()
        with recorded_statements() as statements:
            cards = queries.cards(hall.session, clock.now())
        assert cards
        return len(statements)

    three = count_queries()
    cycle = hall.a.cycle
    more = [create_physician(cycle, name=f"考生{n:02d}") for n in range(37)]
    ops.assign_candidates(hall.session, [p.registration_id for p in more])
    for n, physician in enumerate(more):
        attempt = create_attempt(physician, hall.window, clock.now())
        create_snapshot(attempt, clock.now(), list(SnapshotStatus)[n % len(SnapshotStatus)])
        create_event(attempt, ClientEventKind.DISCONNECTED, clock.now())
    db.session.commit()
    assert len(queries.cards(hall.session, clock.now())) == 40
    assert count_queries() == three


def test_an_invigilator_taken_off_a_session_stops_receiving_its_cards(app, hall):
    ws = wall_socket(app, log_in(app.test_client(), hall.mine))
    ws.emit("join", {"session_id": hall.session.id}, namespace=NAMESPACE, callback=True)
    admin = create_user(Role.ADMIN, password=PASSWORD)
    db.session.commit()
    session_id, attempt_id, theirs_id = hall.session.id, hall.attempt_a.id, hall.theirs.id
    response = log_in(app.test_client(), admin).post(
        f"/admin/sessions/{session_id}", data={"invigilators": [str(theirs_id)], "candidates": ""}
    )
    assert response.status_code == 302
    assert [m["name"] for m in ws.get_received(NAMESPACE)] == ["rejoin"]
    with uow.unit_of_work():
        attempt_changed.send(attempt_id)
    assert candidate_events(ws) == []
    again = ws.emit("join", {"session_id": session_id}, namespace=NAMESPACE, callback=True)
    assert again["status"] == 403
    ws.disconnect(NAMESPACE)


def test_the_timeline_tells_the_liveness_frames_from_the_entry_frames(
    app, hall, clock, faces_photos
):
    """An entry check with 活体检测: its still frames, then the movement's, and the verdict."""
    data_dir = app.config["DATA_DIR"]
    check = create_entry_check(
        hall.a,
        hall.paper,
        clock.now() - timedelta(minutes=2),
        EntryOutcome.RETRY,
        [faces_photos["obama"]] * 4,
        data_dir,
        distance=0.31,
    )
    check.decision = {
        "code": "retry",
        "identity_code": "passed",
        "frames": [{}, {}],  # the engine's per-frame measurements of the two still frames
        "liveness": {"challenge": "blink", "passed": False, "code": "not_done"},
    }
    db.session.commit()
    mine = log_in(app.test_client(), hall.mine)
    text = visible_text(
        mine.get(f"/invigilate/attempts/{hall.attempt_a.id}").get_data(as_text=True)
    )
    for words in (
        "入场画面 1",
        "入场画面 2",
        "活体检测画面 1",
        "活体检测画面 2",
        "活体检测：未完成指定动作",
    ):
        assert words in text, words
    assert "入场画面 3" not in text and "活体检测画面 3" not in text
