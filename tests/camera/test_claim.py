"""首次登录人脸核验: anyone who knows an ID number could claim an unused account with the
initial password 666666. A physician with a usable registration photo (Obama's, encoded by
the real face engine) first verifies the face on the ``/claim`` channel; a different person
(Biden's frames) is refused, recorded and audited, and after three failures is told whom to
call; the same person sets the password. Without a usable photo, or with the setting off,
the password form comes at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g

from examsvc.accounts.models import User
from examsvc.accounts.passwords import hash_password
from examsvc.admission import operations as admission
from examsvc.audit.models import AuditEvent
from examsvc.camera.events import CLAIM
from examsvc.camera.models import EntryCheck, EntryOutcome, EntryOverride, LivenessChallenge
from examsvc.enums import PhotoStatus
from examsvc.extensions import db, socketio
from tests.camera.conftest import CONTACT, emit, log_in, socket_of
from tests.camera.test_gate import BIDEN, OBAMA, consent, shots, start_api
from tests.camera.test_liveness_gate import held
from tests.factories import create_physician
from tests.html_text import visible_text

NEW = "Claim-Doc-2026"


@pytest.fixture
def newcomer(app, gate):
    """The gate's physician, with the initial password and no password set yet; this test
    is about the face, so liveness is off (test_claim_asks_for_liveness_too turns it on)."""
    physician = gate["physician"]
    user = db.session.get(User, physician.user_id)

    user.password_hash, user.must_change_password = hash_password("666666"), True
    db.session.commit()
    return gate


def first_login(app, physician):
    client = app.test_client()
    answer = client.post("/login", data={"login": physician.id_number, "password": "666666"})
    assert answer.headers["Location"].endswith("/account/password")
    return client


def claim_socket(app, client):
    g.pop("user", None)
    return socketio.test_client(app, namespace=CLAIM, flask_test_client=client)


def send(socket, frames, motion=None):
    g.pop("user", None)
    return socket.emit(
        "claim_frames", {"frames": frames, "motion": motion or []}, namespace=CLAIM, callback=True
    )


def set_password(client):
    return client.post("/account/password", data={"old": "666666", "new": NEW, "repeat": NEW})


def page_of(client) -> str:
    return visible_text(client.get("/account/password").get_data(as_text=True))


def test_a_different_person_cannot_claim_the_account(app, newcomer, faces_dir):
    physician = newcomer["physician"]
    user_id = physician.user_id
    client = first_login(app, physician)
    page = page_of(client)
    assert "首次登录人脸核验" in page and "开始人脸核验" in page and "确认修改" not in page
    refused = set_password(client)  # straight to the form: the step again, nothing changed
    assert "首次登录人脸核验" in visible_text(refused.get_data(as_text=True))
    assert db.session.get(User, physician.user_id).must_change_password is True

    socket = claim_socket(app, client)
    assert socket.is_connected(CLAIM)
    acks = [send(socket, shots(faces_dir, *BIDEN)) for _ in range(3)]
    assert [a["outcome"] for a in acks] == ["mismatch"] * 3 and not any(a["admitted"] for a in acks)
    assert acks[0]["message"] == "人脸与报名照片不一致：账号只能由本人激活"
    assert [a["ask_for_help"] for a in acks] == [False, False, True]
    checks = db.session.scalars(sa.select(EntryCheck)).all()
    assert [(c.purpose, c.outcome, c.paper_id) for c in checks] == [
        ("claim", EntryOutcome.MISMATCH, None)
    ] * 3
    assert all(c.distance > 0.5 and c.enrolled is None and len(c.frames) == 3 for c in checks)
    audited = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "user.claim_face")
    ).all()
    assert [(e.object_id, e.actor_id, e.detail["outcome"]) for e in audited] == [
        (str(user_id), user_id, "mismatch")
    ] * 3
    page = page_of(client)
    assert "人脸核验已连续多次未通过" in page and CONTACT in page and "确认修改" not in page
    assert set_password(client).status_code == 200
    assert db.session.get(User, user_id).must_change_password is True
    assert client.get("/home").headers["Location"].endswith("/account/password")


def test_the_registered_person_claims_the_account_and_it_opens_no_exam(app, newcomer, faces_dir):
    physician, paper_id = newcomer["physician"], newcomer["paper"].id
    user_id = physician.user_id
    client = first_login(app, physician)
    ack = send(claim_socket(app, client), shots(faces_dir, *OBAMA))
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed", ack
    assert db.session.get(EntryCheck, ack["id"]).purpose == "claim"
    assert "确认修改" in page_of(client)
    changed = set_password(client)
    assert changed.status_code == 302, visible_text(changed.get_data(as_text=True))
    assert db.session.get(User, user_id).must_change_password is False
    # The claim proved the person, not this exam: the gate still asks for its own check.
    consent(client, paper_id)
    assert start_api(client, paper_id).get_json()["error"]["code"] == "entry_check_required"
    # Once claimed, the claim channel is closed to the account.
    assert not claim_socket(app, client).is_connected(CLAIM)


def test_another_login_must_verify_again(app, newcomer, faces_dir):
    physician = newcomer["physician"]
    first = first_login(app, physician)
    assert send(claim_socket(app, first), shots(faces_dir, *OBAMA))["admitted"]
    other = first_login(app, db.session.merge(physician))  # another browser knowing the ID number
    assert "首次登录人脸核验" in page_of(other)
    assert set_password(other).status_code == 200


def test_claim_asks_for_liveness_too(app, newcomer, faces_dir):
    app.config["LIVENESS"] = True
    client = first_login(app, newcomer["physician"])
    assert "拍照后请按屏幕提示完成一个动作（活体检测）" in page_of(client)
    row = db.session.scalars(sa.select(LivenessChallenge)).one()
    row.challenge = "blink"
    db.session.commit()
    socket = claim_socket(app, client)
    still = send(socket, shots(faces_dir, *OBAMA), held(faces_dir, "obama.jpg", 10, 5))
    assert still["outcome"] == "retry" and still["message"] == "未检测到眨眼。请按提示眨眼后重试"
    assert still["challenge"]["code"] in ("blink", "turn_left", "turn_right", "open_mouth")
    # The next try, with the challenge the answer brought (made a right turn here), performed.
    pending = db.session.scalars(
        sa.select(LivenessChallenge).where(LivenessChallenge.used_at.is_(None))
    ).one()
    assert pending.challenge == still["challenge"]["code"]
    pending.challenge = "turn_right"
    db.session.commit()
    turning = held(faces_dir, "obama.jpg", 2, 6) + held(faces_dir, "obama2.jpg", 4, 7)
    done = send(socket, shots(faces_dir, *OBAMA), turning)
    assert done["admitted"] and done["liveness"] and done["outcome"] == "passed", done
    assert "确认修改" in page_of(client)


def test_without_a_usable_photo_with_an_override_or_the_setting_off_the_form_comes_first(
    app, newcomer, clock
):
    physician = newcomer["physician"]
    app.config["FIRST_LOGIN_FACE"] = False
    client = first_login(app, physician)
    assert "确认修改" in page_of(client) and "首次登录人脸核验" not in page_of(client)
    assert not claim_socket(app, client).is_connected(CLAIM)
    app.config["FIRST_LOGIN_FACE"] = True
    physician = db.session.merge(physician)
    assert "首次登录人脸核验" in page_of(first_login(app, physician))
    # An administrator's override (准许, after three failures and a call) lets them set it.
    override = EntryOverride(
        physician_id=physician.id,
        granted_by=physician.user_id,
        granted_at=clock.now(),
        reason="已核实",
    )
    db.session.add(override)
    db.session.commit()
    assert "确认修改" in page_of(first_login(app, physician))
    db.session.delete(override)
    physician.photo_status, physician.face_encoding = PhotoStatus.FAILED, None
    db.session.commit()
    client = first_login(app, physician)
    assert "确认修改" in page_of(client)
    assert set_password(client).status_code == 302


def test_the_claim_queues_behind_the_entry_checks_and_is_told_its_turn(
    app, newcomer, faces_dir, clock
):
    """排队 for the first-login check too: with the one slot taken by a candidate's entry
    check, the claim is refused (409 ``not_admitted``) and waits on its own channel; when that
    entry check ends the claiming page is told its turn, is admitted, and its check frees
    the slot."""
    app.config["ADMISSION_SLOTS"] = 1
    policy = admission.Policy.from_config(app.config)
    paper_id = newcomer["paper"].id
    other = create_physician(newcomer["cycle"], password="Right-Pass1")  # the same face
    other.user.must_change_password = False
    other.photo_status = PhotoStatus.OK
    other.face_encoding = newcomer["physician"].face_encoding
    db.session.commit()
    candidate = log_in(app, other)
    consent(candidate, paper_id)
    exam_socket = socket_of(app, candidate)
    assert emit(exam_socket, "admission", {})["admitted"] is True

    client = first_login(app, db.session.merge(newcomer["physician"]))
    html = client.get("/account/password").get_data(as_text=True)
    assert "正在排队等候人脸核验" in html  # the queue's box, hidden until it waits
    socket = claim_socket(app, client)
    refused = send(socket, shots(faces_dir, *OBAMA))
    assert (refused["ok"], refused["status"], refused["error"]["code"]) == (
        False,
        409,
        "not_admitted",
    )
    g.pop("user", None)
    waiting = socket.emit("admission", {}, namespace=CLAIM, callback=True)
    assert (waiting["admitted"], waiting["ahead"]) == (False, 1)
    socket.get_received(CLAIM)

    frames = {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)}
    assert emit(exam_socket, "entry_frames", frames)["admitted"] is True
    assert [(e["name"], e["args"]) for e in socket.get_received(CLAIM)] == [
        ("admission_turn", [{}])
    ]
    g.pop("user", None)
    assert socket.emit("admission", {}, namespace=CLAIM, callback=True)["admitted"] is True
    ack = send(socket, shots(faces_dir, *OBAMA))
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed", ack
    assert admission.queue_length(clock.now(), policy) == (0, 0)  # its slot freed too
