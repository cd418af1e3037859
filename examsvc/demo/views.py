"""Demo only: a demo physician enrols their registration photo from their own camera.

In a real assessment the photo comes from the registration system and cannot be
replaced by the candidate; this blueprint is registered only when EXAMSVC_DEMO_MODE is on.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from examsvc.accounts.auth import physician_required
from examsvc.camera import faces
from examsvc.marks import N_
from examsvc.roster import operations
from examsvc.roster.queries import logged_in_physician
from examsvc.web.errors import ApiError
from proctoring.pool import Priority

bp = Blueprint("demo", __name__)


@bp.get("/demo/photo")
@physician_required
def enrol_page() -> str:
    return render_template("demo/enrol.html")


@bp.post("/api/v1/demo/photo")
@physician_required
def enrol() -> dict[str, Any]:
    physician = logged_in_physician()
    if physician is None:
        abort(404)
    upload = request.files.get("photo")
    data = upload.read() if upload else b""
    result = faces.run(
        "registration_photo", {"image": data}, candidate=str(physician.id), priority=Priority.ENTRY
    )
    if not result.get("ok"):
        raise ApiError(
            422,
            result.get("reason_code") or result.get("error") or "bad_photo",
            result.get("reason_zh") or result.get("message_zh") or N_("照片不可用"),
        )

    def checker(_: bytes) -> tuple[bool, str | None, str | None, bytes | None]:
        return True, None, None, result["encoding"]  # checked on the pool just above

    operations.apply_photo(
        physician,
        data,
        data_dir=current_app.config["DATA_DIR"],
        checker=checker,
        expected_sha256=None,
        report=operations.PullReport(),
    )
    return {"ok": True, "message": N_("照片已保存，可用于人脸验证")}
