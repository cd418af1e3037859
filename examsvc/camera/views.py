"""The camera feature's staff pages: the face threshold calibration (issue 12)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from examsvc.accounts.auth import admin_required, current_user
from examsvc.audit.operations import record
from examsvc.camera import calibration as calib
from examsvc.clock import now
from examsvc.roster.queries import current_cycle
from examsvc.web.errors import ApiError
from examsvc.web.i18n import gettext as _
from proctoring.calibration import NotEnoughPairs, pairs_needed

bp = Blueprint("camera", __name__)

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
