"""活体检测 in the entry gate, through the Socket.IO test client with the real face engine:
the verification page has the server choose a challenge and keeps it for this device; a
still photo (held by hand: moved, scaled, re-lit) fails every challenge and is a retry that
counts towards asking for help; a sequence that shows the asked-for movement (Obama's frontal
photo, then his turned one) passes, and the EntryCheck keeps the challenge, the measures
and the verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa

from examsvc.camera.models import EntryCheck, EntryOutcome, LivenessChallenge
from examsvc.extensions import db
from proctoring import frames as frame_io
from proctoring import liveness
from proctoring.config import FaceConfig
from tests.camera.conftest import emit, socket_of
from tests.camera.test_gate import OBAMA, consent, shots, start_api
from tests.html_text import visible_text
from tests.proctoring.conftest import jpeg
from tests.proctoring.test_liveness import held_print

BIG = FaceConfig(max_bytes=10**8)


@pytest.fixture
def live(app, gate):
    app.config["LIVENESS"] = True
    return gate


def held(faces_dir, name: str, count: int, seed: int) -> list[bytes]:
    """A print of a shared photo held to the camera: ``count`` frames, each moved a little."""
    image = frame_io.decode((faces_dir / "face_recognition" / name).read_bytes(), BIG)
    rng = np.random.default_rng(seed)
    return [jpeg(held_print(image, rng)) for _ in range(count)]


def open_page(phone, paper_id: int) -> str:
    return visible_text(phone.get(f"/exam/paper/{paper_id}/verify").get_data(as_text=True))


def force(challenge: str) -> None:
    """The test decides what the server asked (the engine's tests cover the random choice)."""
    row = db.session.scalars(
        sa.select(LivenessChallenge).where(LivenessChallenge.used_at.is_(None))
    ).one()
    row.challenge = challenge
    db.session.commit()


def test_the_page_gets_a_random_challenge_kept_for_this_device(app, live, phone):
    paper_id = live["paper"].id
    consent(phone, paper_id)
    page = open_page(phone, paper_id)
    assert "拍照后请按屏幕提示完成一个动作（活体检测）" in page
    rows = db.session.scalars(sa.select(LivenessChallenge)).all()
    assert len(rows) == 1 and rows[0].challenge in liveness.CHALLENGES
    assert rows[0].physician_id == live["physician"].id and rows[0].used_at is None
    html = phone.get(f"/exam/paper/{paper_id}/verify").get_data(as_text=True)
    db.session.expire_all()
    rows = db.session.scalars(sa.select(LivenessChallenge).order_by(LivenessChallenge.id)).all()
    # A new page, a new challenge; the old one is void.
    assert len(rows) == 2 and rows[0].used_at is not None and rows[1].used_at is None
    shown = {"blink": "请眨眨眼", "turn_left": "请慢慢向左转头", "turn_right": "请慢慢向右转头"}
    said = json.dumps(shown.get(rows[1].challenge, "请张开嘴"))
    assert said in html  # in the page's data for camera.js (JSON-escaped)


def test_a_held_photo_fails_every_challenge_and_counts_towards_help(app, live, phone, faces_dir):
    paper_id = live["paper"].id
    consent(phone, paper_id)
    open_page(phone, paper_id)
    socket = socket_of(app, phone)
    acks = []
    for seed, challenge in enumerate(liveness.CHALLENGES, start=1):
        force(challenge)
        acks.append(
            emit(
                socket,
                "entry_frames",
                {
                    "paper_id": paper_id,
                    "frames": shots(faces_dir, *OBAMA),
                    "motion": held(faces_dir, "obama.jpg", 10, seed),
                },
            )
        )
    assert [a["outcome"] for a in acks] == ["retry"] * 4, acks
    assert not any(a["admitted"] or a["liveness"] for a in acks)
    assert [a["message"] for a in acks] == [
        "未检测到眨眼。请按提示眨眼后重试",
        "未检测到转头。请按提示向左转头后重试",
        "未检测到转头。请按提示向右转头后重试",
        "未检测到张嘴。请按提示张嘴后重试",
    ]
    assert [a["failures"] for a in acks] == [1, 2, 3, 4]
    assert [a["ask_for_help"] for a in acks] == [False, False, True, True]
    assert all(a["challenge"]["code"] in liveness.CHALLENGES for a in acks)  # the next try
    checks = db.session.scalars(sa.select(EntryCheck).order_by(EntryCheck.id)).all()
    for check, challenge in zip(checks, liveness.CHALLENGES, strict=True):
        assert check.outcome == EntryOutcome.RETRY and check.enrolled is None
        # The face was Obama's: the identity passed, the movement did not.
        assert check.decision["identity_code"] == "passed" and check.distance < 0.4
        verdict = check.decision["liveness"]
        assert verdict["challenge"] == challenge and verdict["passed"] is False
        assert verdict["code"] == "not_done" and verdict["frames"] >= 3
        assert set(verdict["baseline"]) == {"ear", "yaw", "mar", "shape"}
        assert len(verdict["series"]) == 10 and len(check.frames) == 3 + 10
    assert start_api(phone, paper_id).get_json()["error"]["code"] == "entry_check_required"
    assert "人脸验证已连续多次未通过" in open_page(phone, paper_id)


def test_a_sequence_that_turns_the_head_passes_and_is_stored(app, live, phone, faces_dir):
    paper_id = live["paper"].id
    consent(phone, paper_id)
    open_page(phone, paper_id)
    force("turn_left")
    socket = socket_of(app, phone)
    # Frontal, then turned to his right (the nose to the image left): not a left turn.
    turning = held(faces_dir, "obama.jpg", 2, 3) + held(faces_dir, "obama2.jpg", 4, 4)
    wrong = emit(
        socket,
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA), "motion": turning},
    )
    assert (
        wrong["outcome"] == "retry" and wrong["message"] == "未检测到转头。请按提示向左转头后重试"
    )
    force("turn_right")
    ack = emit(
        socket,
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA), "motion": turning},
    )
    assert ack["ok"] and ack["admitted"] and ack["outcome"] == "passed" and ack["liveness"], ack
    assert "challenge" not in ack
    check = db.session.get(EntryCheck, ack["id"])
    verdict = check.decision["liveness"]
    assert verdict["challenge"] == "turn_right" and verdict["passed"] is True
    assert verdict["extreme"] > liveness.YAW_DELTA
    assert len(check.enrolled) == 3 * 128 * 8
    # The challenge is used: the same frames again need a new page (a new challenge).
    again = emit(
        socket,
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA), "motion": turning},
    )
    assert again["ok"] is False and again["error"]["code"] == "reload"
    assert start_api(phone, paper_id).status_code == 201


def test_without_a_challenge_from_a_page_nothing_is_judged(app, live, phone, faces_dir):
    paper_id = live["paper"].id
    consent(phone, paper_id)
    ack = emit(
        socket_of(app, phone),
        "entry_frames",
        {"paper_id": paper_id, "frames": shots(faces_dir, *OBAMA)},
    )
    assert ack["ok"] is False and ack["error"]["code"] == "reload"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryCheck)) == 0
