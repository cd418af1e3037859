"""The gate before an attempt (进入测评): consent per cycle, the device check and entry face
verification over the exam socket with the real face engine, the start refused without
them, resuming on another device, the agency's list and its overrides."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from examsvc import signals
from examsvc.accounts.ids import mask
from examsvc.attempts.models import Attempt
from examsvc.audit.models import AuditEvent
from examsvc.camera import rules
from examsvc.camera.models import EntryCheck, EntryOutcome, EntryOverride, FaceConsent
from examsvc.enums import PhotoStatus, Role
from examsvc.extensions import db
from proctoring import frames as frame_io
from proctoring.config import FaceConfig
from tests.camera.conftest import CONTACT, emit, log_in, socket_of
from tests.factories import create_cycle, create_physician, create_user
from tests.factories_exam import pass_gate
from tests.html_text import visible_text
from tests.proctoring.conftest import jpeg


def shots(faces_dir: Path, *names: str) -> list[bytes]:
    """Camera frames (JPEG, ≤ 640 px) made from the shared photos."""
    big = FaceConfig(max_bytes=10**8)
    return [
        jpeg(frame_io.decode((faces_dir / "face_recognition" / n).read_bytes(), big)) for n in names
    ]


OBAMA = ("obama2.jpg", "obama-480p.jpg", "obama.jpg")
BIDEN = ("biden.jpg", "biden_biden2.jpg", "biden.jpg")


def start_api(client, paper_id: int):
    return client.post(
        f"/api/v1/exam/papers/{paper_id}/attempts", json={"rules_acknowledged": True}
    )


def consent(client, paper_id: int) -> None:
    assert client.post(f"/exam/paper/{paper_id}/consent").status_code == 302


def test_consent_is_asked_once_per_cycle_and_stored_with_its_version(app, gate, phone, clock):
    paper_id, physician = gate["paper"].id, gate["physician"]
    page = visible_text(phone.get(f"/exam/paper/{paper_id}/consent").get_data(as_text=True))
    # The text says what is done now: the camera check, the comparison with the registration
    # photo, random snapshots seen by invigilators, and how long images are kept.
    for words in (
        "人脸信息采集授权",
        "设备调试",
        "与您报名时提交的证件照片",
        "随机抓拍监考照片",
        "监考老师可以实时查看",
        "考核结果确定后删除",
        "申诉期结束后删除",
        CONTACT,
    ):
        assert words in page, words
    assert "1 设备调试 2 授权 3 人脸验证 4 考前须知" in page

    refused = start_api(phone, paper_id)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "consent_required"
    assert phone.get("/api/v1/exam").get_json()["consent_given"] is False
    answer = phone.post(f"/exam/paper/{paper_id}/consent")
    assert answer.headers["Location"].endswith(f"/exam/paper/{paper_id}/verify")
    clock.advance(minutes=5)
    again = phone.post("/api/v1/exam/consent").get_json()
    assert again == {
        "consent_given": True,
        "version": "2026-3",
        "given_at": "2026-05-12T01:00:00+00:00",
    }
    rows = db.session.scalars(sa.select(FaceConsent)).all()
    assert [(r.user_id, r.cycle_id, r.version, r.address) for r in rows] == [
        (physician.user_id, gate["cycle"].id, rules.CONSENT_VERSION, "127.0.0.1")
    ]
    assert phone.get("/api/v1/exam").get_json()["consent_given"] is True
    # Consent to the old text (before the camera) does not count, nor another cycle's.
    rows[0].version = "2026-2"
    db.session.commit()
    assert phone.get("/api/v1/exam").get_json()["consent_given"] is False
    rows[0].version, rows[0].cycle_id = (
        rules.CONSENT_VERSION,
        create_cycle(code="HN-2020", starts_on=date(2018, 1, 1), ends_on=date(2020, 12, 31)).id,
    )
    db.session.commit()
    assert phone.get("/api/v1/exam").get_json()["consent_given"] is False


def test_a_camera_check_gives_the_engines_instruction_until_the_picture_is_good(
    app, gate, phone, faces_dir, faces_photos
):
    socket = socket_of(app, phone)
    ok = emit(socket, "camera_check", {"image": shots(faces_dir, "obama-480p.jpg")[0]})
    assert ok == {"ok": True, "good": True, "code": None, "message": ""}
    two = emit(socket, "camera_check", {"image": faces_photos["two"]})
    assert two["good"] is False and two["message"] == "画面中出现多人，请确保只有本人"
    dark = emit(
        socket,
        "camera_check",
        {"image": jpeg(frame_io.decode(faces_photos["obama"], FaceConfig()) // 8)},
    )
    assert dark["good"] is False and "光线过暗" in dark["message"]
    broken = emit(socket, "camera_check", {"image": faces_photos["broken"]})
    assert broken["ok"] and broken["good"] is False and broken["message"]


def test_the_same_person_passes_and_the_start_takes_and_links_the_verification(
    app, gate, phone, faces_dir, clock
):
    paper_id, physician_id = gate["paper"].id, gate["physician"].id
    consent(phone, paper_id)
    refused = start_api(phone, paper_id).get_json()["error"]
    assert refused["code"] == "entry_check_required" and refused["message"] == "请先完成人脸验证"
    # Without a verification the rules page sends the candidate to the first step.
    assert (
        phone.get(f"/exam/paper/{paper_id}")
        .headers["Location"]
        .endswith(f"/exam/paper/{paper_id}/device")
    )

    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)},
    )
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed", ack
    assert ack["message"] == "人脸验证通过"
    check = db.session.get(EntryCheck, ack["id"])
    assert (
        check.outcome == EntryOutcome.PASSED
        and check.distance is not None
        and check.distance < 0.55
    )
    assert check.physician_id == physician_id and check.paper_id == paper_id
    assert "enrolled" not in check.decision and "encoding" not in str(check.decision)
    assert len(check.decision["frames"]) == 3 and len(check.enrolled) == 3 * 128 * 8
    data_dir = Path(app.config["DATA_DIR"])
    assert len(check.frames) == 3 and all(p.startswith("entry/") for p in check.frames)
    assert all((data_dir / p).read_bytes()[:2] == b"\xff\xd8" for p in check.frames)

    rules_page = visible_text(phone.get(f"/exam/paper/{paper_id}").get_data(as_text=True))
    assert (
        "我知晓--开始考试" in rules_page and "1 设备调试 2 授权 3 人脸验证 4 考前须知" in rules_page
    )
    announced: list[int] = []
    signals.attempt_changed.connect(announced.append, weak=False)
    try:
        started = phone.post(f"/exam/paper/{paper_id}", data={"rules": "on"})
    finally:
        signals.attempt_changed.disconnect(announced.append)
    attempt = db.session.scalars(sa.select(Attempt)).one()
    assert started.headers["Location"].endswith(f"/exam/{attempt.id}")
    assert announced == [attempt.id]
    db.session.refresh(check)
    assert check.attempt_id == attempt.id
    assert phone.get(f"/exam/{attempt.id}").status_code == 200  # this device, later on too
    clock.advance(minutes=45)
    assert phone.get(f"/exam/{attempt.id}").status_code == 200


def test_another_persons_face_is_refused_stored_and_after_three_the_agency_is_asked(
    app, gate, phone, faces_dir
):
    paper_id = gate["paper"].id
    consent(phone, paper_id)
    socket = socket_of(app, phone)
    acks = [
        emit(socket, "entry_frames", {"paper_id": paper_id, "frames": shots(faces_dir, *BIDEN)})
        for _ in range(3)
    ]
    assert [a["outcome"] for a in acks] == ["mismatch"] * 3 and not any(a["admitted"] for a in acks)
    assert acks[0]["message"] == "人脸与报名照片不一致，请本人参加考试"
    assert [a["failures"] for a in acks] == [1, 2, 3]
    assert [a["ask_for_help"] for a in acks] == [False, False, True]
    checks = db.session.scalars(sa.select(EntryCheck)).all()
    assert {c.outcome for c in checks} == {EntryOutcome.MISMATCH} and len(checks) == 3
    assert all(c.distance > 0.55 and c.enrolled is None and len(c.frames) == 3 for c in checks)
    assert start_api(phone, paper_id).get_json()["error"]["code"] == "entry_check_required"
    page = visible_text(phone.get(f"/exam/paper/{paper_id}/verify").get_data(as_text=True))
    assert "人脸验证已连续多次未通过" in page and CONTACT in page
    # Too few frames, or not frames at all: refused before any face work.
    few = emit(
        socket, "entry_frames", {"paper_id": paper_id, "frames": shots(faces_dir, "obama.jpg")}
    )
    assert few["ok"] is False and few["error"]["code"] == "invalid"
    huge = emit(socket, "entry_frames", {"paper_id": paper_id, "frames": [b"x" * 3_000_000] * 3})
    assert huge["ok"] is False and huge["error"]["code"] == "invalid"
    nowhere = emit(socket, "entry_frames", {"paper_id": 999, "frames": shots(faces_dir, *OBAMA)})
    assert nowhere["ok"] is False and nowhere["error"]["code"] == "not_found"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryCheck)) == 3


def test_without_a_usable_photo_the_physician_cannot_start_and_is_told_whom_to_call(
    app, gate, phone, faces_dir
):
    physician, paper_id = gate["physician"], gate["paper"].id
    physician.photo_status, physician.face_encoding = PhotoStatus.FAILED, None
    physician.photo_problem_text = "照片中未检测到人脸"
    db.session.commit()
    page = visible_text(phone.get(f"/exam/paper/{paper_id}/device").get_data(as_text=True))
    assert "暂不能参加测评：报名照片不可用" in page and "照片中未检测到人脸" in page
    assert CONTACT in page
    consent(phone, paper_id)
    refused = start_api(phone, paper_id).get_json()["error"]
    assert refused["code"] == "no_photo" and "请联系考核机构" in refused["message"]
    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)},
    )
    assert ack["ok"] is False and ack["error"]["code"] == "no_photo"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryCheck)) == 0


def test_the_agency_lists_them_with_masked_ids_and_only_an_admin_lets_one_through(
    app, gate, phone, clock
):
    physician, paper_id = gate["physician"], gate["paper"].id
    physician.photo_status, physician.face_encoding = PhotoStatus.MISSING, None
    fine = create_physician(gate["cycle"], name="照片正常医师")
    fine.photo_status, fine.face_encoding = PhotoStatus.OK, bytes(1024)
    db.session.commit()
    consent(phone, paper_id)

    viewer = app.test_client()
    create_user(Role.VIEWER, login="viewer1", password="Right-Pass1")
    admin_user = create_user(Role.ADMIN, login="admin1", password="Right-Pass1")
    db.session.commit()
    viewer.post("/login", data={"login": "viewer1", "password": "Right-Pass1"})
    listed = visible_text(viewer.get("/admin/entry").get_data(as_text=True))
    assert physician.name in listed and mask(physician.id_number) in listed
    assert physician.id_number not in listed and "照片正常医师" not in listed
    assert "报名照片不可用" in listed and "人脸验证异常" in listed  # also the menu's link
    refused = viewer.post(f"/admin/entry/{physician.id}/override", data={"reason": "已核实"})
    assert refused.status_code == 403

    admin = app.test_client()
    admin.post("/login", data={"login": "admin1", "password": "Right-Pass1"})
    assert "准许进入测评" in admin.get("/admin/entry").get_data(as_text=True)
    admin.post(f"/admin/entry/{physician.id}/override", data={"reason": " "})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryOverride)) == 0
    granted = admin.post(
        f"/admin/entry/{physician.id}/override", data={"reason": "现场核验身份证，照片待补报"}
    )
    assert granted.status_code == 302
    override = db.session.scalars(sa.select(EntryOverride)).one()
    assert (override.physician_id, override.granted_by, override.granted_at, override.reason) == (
        physician.id,
        admin_user.id,
        clock.now(),
        "现场核验身份证，照片待补报",
    )
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "entry.override")
    ).one()
    assert event.actor_id == admin_user.id and event.object_id == str(physician.id)
    listed = visible_text(viewer.get("/admin/entry").get_data(as_text=True))
    assert "已准许" in listed and "现场核验身份证，照片待补报" in listed

    # Let through: the verification step is skipped, the rules page says why.
    assert (
        phone.get(f"/exam/paper/{paper_id}/verify")
        .headers["Location"]
        .endswith(f"/exam/paper/{paper_id}")
    )
    rules_page = visible_text(phone.get(f"/exam/paper/{paper_id}").get_data(as_text=True))
    assert "考核机构已准许您免于人脸验证进入测评" in rules_page
    assert start_api(phone, paper_id).status_code == 201


def test_resuming_on_another_device_needs_its_own_verification(app, gate, phone, faces_dir, clock):
    paper_id, physician = gate["paper"].id, gate["physician"]
    consent(phone, paper_id)
    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)},
    )
    attempt_id = start_api(phone, paper_id).get_json()["id"]
    assert db.session.get(EntryCheck, ack["id"]).attempt_id == attempt_id

    pc = log_in(app, db.session.merge(physician))  # the same physician, another browser
    moved = pc.get(f"/exam/{attempt_id}")
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith(f"/exam/paper/{paper_id}/verify")
    assert start_api(pc, paper_id).get_json()["error"]["code"] == "entry_check_required"
    # A stranger with the password is refused there too.
    stranger = emit(
        socket_of(app, pc),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *BIDEN)},
    )
    assert stranger["outcome"] == "mismatch" and pc.get(f"/exam/{attempt_id}").status_code == 302
    mine = emit(
        socket_of(app, pc),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)},
    )
    assert mine["admitted"]
    assert pc.get(f"/exam/{attempt_id}").status_code == 200
    assert db.session.get(EntryCheck, mine["id"]).attempt_id == attempt_id
    assert phone.get(f"/exam/{attempt_id}").status_code == 200  # the first device still may


def test_a_verification_opens_one_attempt_and_only_for_a_while(app, gate, phone, clock):
    paper_id, physician = gate["paper"].id, gate["physician"]
    app.config["ENTRY_VALID_MINUTES"] = 30
    consent(phone, paper_id)
    with phone.session_transaction() as session:
        device = session["device"]
    pass_gate(physician, device, clock.now())
    db.session.commit()
    clock.advance(minutes=31)
    assert start_api(phone, paper_id).get_json()["error"]["code"] == "entry_check_required"
    pass_gate(physician, device, clock.now())
    db.session.commit()
    first = start_api(phone, paper_id).get_json()
    assert phone.post(f"/api/v1/exam/attempts/{first['id']}/submit").status_code == 200
    # The next attempt (a retry) takes a verification of its own.
    assert start_api(phone, paper_id).get_json()["error"]["code"] == "entry_check_required"
