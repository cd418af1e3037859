"""进入测评's camera steps (1 设备调试, 2 授权, 3 人脸验证; 4 考前须知 is the attempts'
prepare page), the consent API, the agency's list of physicians the gate stops, and the face
threshold calibration page (issue 12).

The gate itself (``entry_gate``) is handed to attempts through ``app.extensions``:
attempts asks it before starting or resuming, and knows no camera model."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from examsvc import uow
from examsvc.accounts.auth import admin_required, current_user, physician_required, roles_required
from examsvc.accounts.ids import mask
from examsvc.accounts.models import User
from examsvc.attempts import operations as attempts
from examsvc.attempts.rules import checks_in
from examsvc.audit.operations import record
from examsvc.camera import calibration as calib
from examsvc.camera import operations as ops
from examsvc.camera import queries, rules
from examsvc.camera.events import challenge_of
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import Paper
from examsvc.papers.views import actor_id, current_cycle_id
from examsvc.roster.models import Physician
from examsvc.roster.queries import Candidate, current_cycle, logged_in_physician
from examsvc.web.errors import ApiError
from examsvc.web.i18n import gettext as _
from proctoring.calibration import NotEnoughPairs, pairs_needed

bp = Blueprint("camera", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)


def device_token() -> str:
    """This browser session's device token (set at login; older sessions get one here, on
    a page, so that the socket, which cannot write the session, finds it)."""
    token = session.get("device")
    if not token:
        token = session["device"] = secrets.token_urlsafe(16)
    return str(token)


def entry_gate(
    physician: Physician | Candidate,
    paper_id: int | None,
    when: datetime,
    *,
    attempt_id: int | None = None,
) -> attempts.Entry:
    """The gate for this physician on this device (``ENTRY_GATE`` of attempts); ``step`` is
    the camera page of ``paper_id`` to go to first, if any: the device check for a new
    attempt, the face verification for resuming ``attempt_id`` here."""
    found = queries.gate_reads(
        physician.user_id,
        physician.cycle_id,
        physician.id,
        session.get("device"),
        when,
        current_app.config["ENTRY_VALID_MINUTES"],
    )
    gate = attempts.Entry(
        consented=found.consented,
        photo_usable=bool(physician.photo_usable),
        check=found.check,
        override_id=found.override_id,
    )
    if paper_id is None or gate.admits(attempt_id):
        return gate
    endpoint = "camera.verify" if attempt_id is not None and gate.consented else "camera.device"
    return replace(gate, step=url_for(endpoint, paper_id=paper_id))


def help_contact() -> str:
    """Whom a candidate the camera or the gate stops should call (EXAMSVC_HELP_CONTACT)."""
    return str(current_app.config["HELP_CONTACT"] or _("您所在地区的考核机构"))


def _candidate(paper_id: int) -> tuple[Physician, Paper]:
    physician = logged_in_physician()
    paper = db.session.get(Paper, paper_id)
    if physician is None or paper is None:
        abort(404)
    return physician, paper


def _step_page(template: str, physician: Physician, paper: Paper, **context: Any) -> Any:
    """A camera step, or why the physician cannot go on (the paper closed, no usable photo)."""
    when = now()
    state = attempts.state_of(physician, paper.id, when)
    if state is None or not (
        state.can_start or checks_in(state, when, current_app.config["CHECKIN_MINUTES"])
    ):
        return render_template("attempts/prepare.html", paper=paper, state=state, step=0)
    override = queries.active_override(physician.id)
    if not queries.photo_usable(physician) and override is None:
        return render_template(
            "camera/no_photo.html",
            paper=paper,
            physician=physician,
            contact=help_contact(),
            step=1,
        )
    device_token()
    return render_template(
        template,
        paper=paper,
        physician=physician,
        contact=help_contact(),
        consented=queries.consent_of(physician.user_id, physician.cycle_id) is not None,
        override=override,
        **context,
    )


@bp.get("/exam/paper/<int:paper_id>/device")
@physician_required
def device(paper_id: int) -> Any:
    """Step 1, 设备调试: the camera opens, the engine's check until the picture is good."""
    physician, paper = _candidate(paper_id)
    return _step_page("camera/device.html", physician, paper, step=1)


@bp.route("/exam/paper/<int:paper_id>/consent", methods=["GET", "POST"])
@physician_required
def consent(paper_id: int) -> Any:
    """Step 2, 人脸信息采集授权 (once per cycle and text version)."""
    physician, paper = _candidate(paper_id)
    if request.method == "POST":
        ops.give_consent(
            physician.user_id, physician.cycle_id, now=now(), address=request.remote_addr
        )
        return redirect(url_for("camera.verify", paper_id=paper_id))
    return _step_page("camera/consent.html", physician, paper, step=2)


def _challenge(physician: Physician) -> dict[str, str] | None:
    """活体检测 on: the server's random challenge for this page's next verification, kept
    for this device (the socket that receives the frames cannot write the session)."""
    if not current_app.config["LIVENESS"]:
        return None
    chosen = ops.issue_challenge(physician.id, device_token(), now=now())
    return challenge_of(chosen.challenge)


@bp.get("/exam/paper/<int:paper_id>/verify")
@physician_required
def verify(paper_id: int) -> Any:
    """Step 3, 人脸验证: frames over the socket, the engine's decision (and the liveness
    challenge's)."""
    physician, paper = _candidate(paper_id)
    if queries.consent_of(physician.user_id, physician.cycle_id) is None:
        return redirect(url_for("camera.consent", paper_id=paper_id))
    if queries.active_override(physician.id) is not None:
        return redirect(url_for("attempts.prepare", paper_id=paper_id))
    return _step_page(
        "camera/verify.html",
        physician,
        paper,
        step=3,
        failures=queries.failures(physician.id),
        failures_before_help=rules.FAILURES_BEFORE_HELP,
        challenge=_challenge(physician),
    )


def claim_step(user: User) -> Any:
    """首次登录人脸核验 (``accounts.views.CLAIM_STEP``): before a physician with a usable
    registration photo sets the first password, the face on this device's camera must match
    it (a passed or reviewed ``claim`` check of this login, within
    ``EXAMSVC_ENTRY_VALID_MINUTES``). None — the password form as before — when the
    setting is off, for staff, without a usable photo, or with an administrator's override."""
    if not current_app.config["FIRST_LOGIN_FACE"] or user.role != Role.PHYSICIAN:
        return None
    physician = logged_in_physician()
    if physician is None or not queries.photo_usable(physician):
        return None
    if queries.active_override(physician.id) is not None:
        return None
    if queries.claim_check(
        physician.id, device_token(), now(), current_app.config["ENTRY_VALID_MINUTES"]
    ):
        return None
    return render_template(
        "camera/claim.html",
        physician=physician,
        paper=None,
        step=0,
        contact=help_contact(),
        failures=queries.failures(physician.id),
        failures_before_help=rules.FAILURES_BEFORE_HELP,
        challenge=_challenge(physician),
    )


@bp.post("/api/v1/exam/consent")
@physician_required
def consent_api() -> dict[str, Any]:
    physician = logged_in_physician()
    if physician is None:
        raise ApiError(404, "not_registered", N_("本周期没有您的报名记录"))
    given = ops.give_consent(
        physician.user_id, physician.cycle_id, now=now(), address=request.remote_addr
    )
    return {"consent_given": True, "version": given.version, "given_at": given.given_at.isoformat()}


# --- the agency's list ------------------------------------------------------------------


@bp.get("/admin/entry")
@readers
def blocked() -> str:
    """Physicians the gate stops: no usable photo, or verification failing again and again."""
    rows = queries.blocked(current_cycle_id())
    return render_template(
        "camera/blocked.html",
        rows=rows,
        masked={row.physician.id: mask(row.physician.id_number) for row in rows},
        failures_before_help=rules.FAILURES_BEFORE_HELP,
    )


@bp.post("/admin/entry/<int:physician_id>/override")
@admin_required
def override(physician_id: int) -> BaseResponse:
    """准许进入测评: an administrator lets one physician through, with the reason recorded."""
    physician = db.session.get(Physician, physician_id)
    if physician is None or physician.cycle_id != current_cycle_id():
        abort(404)
    actor = actor_id()
    assert actor is not None
    try:
        ops.grant_override(
            physician, actor_id=actor, reason=request.form.get("reason", ""), now=now()
        )
    except DomainError as exc:
        flash(exc.message, "error")
        raise uow.Discard(lambda: redirect(url_for("camera.blocked"))) from None
    flash(_("已准许 {name} 免于人脸验证进入测评", name=physician.name), "success")
    return redirect(url_for("camera.blocked"))


# --- face threshold calibration (issue 12) ----------------------------------------------

# Target false-accept rates offered on the page: (strict, loose) choices.
STRICT_CHOICES = (0.001, 0.002, 0.005)
LOOSE_CHOICES = (0.01, 0.02, 0.05)


def _percent(rate: float | None, digits: int = 2) -> str:
    return "—" if rate is None else f"{rate * 100:.{digits}f}%"


@bp.get("/admin/faces/calibration")
@admin_required
def calibration_page() -> str:
    row = calib.latest()
    config = calib.effective_config()
    cycle = current_cycle()
    return render_template(
        "camera/calibration.html",
        calibration=row,
        history=calib.history(),
        config=config,
        evidence=calib.genuine_evidence(config),
        cycle=cycle,
        photos=calib.roster_photo_count(cycle.id) if cycle else 0,
        needed_strict=pairs_needed(0.001),
        needed_loose=pairs_needed(0.01),
        people_strict=calib.people_for_pairs(pairs_needed(0.001)),
        strict_choices=STRICT_CHOICES,
        loose_choices=LOOSE_CHOICES,
        percent=_percent,
    )


@bp.post("/admin/faces/calibration")
@admin_required
def calibrate() -> BaseResponse:
    cycle = current_cycle()
    if cycle is None:
        raise ApiError(409, "no_cycle", "尚无考核周期")
    strict = _choice("strict_far", STRICT_CHOICES)
    loose = _choice("loose_far", LOOSE_CHOICES)
    user = current_user()
    actor = user.id if user else None
    try:
        row = calib.calibrate_cycle(
            cycle, strict_far=strict, loose_far=loose, actor_id=actor, now=now()
        )
    except NotEnoughPairs as exc:
        flash(
            _(
                "照片合格的考生太少：{pairs} 对照片不足以证明误识率不超过 {far}，至少需要 {needed} 对",
                pairs=exc.pairs,
                far=_percent(exc.target_far, 2),
                needed=exc.needed,
            ),
            "error",
        )
        return redirect(url_for("camera.calibration_page"))
    record(
        "face.calibrate",
        "face_calibration",
        row.version,
        actor_id=actor,
        now=row.created_at,
        pairs=row.pairs,
        entry_accept=row.entry_accept,
        entry_reject=row.entry_reject,
    )
    flash(_("校准完成：第 {n} 版阈值已生效", n=row.version), "success")
    return redirect(url_for("camera.calibration_page"))


def _choice(name: str, choices: tuple[float, ...]) -> float:
    raw: Any = request.form.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value not in choices:
        raise ApiError(422, "bad_rate", "请选择误识率目标")
    return value
