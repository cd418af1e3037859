"""Login, logout, password change, and the administrators' account pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import generate_csrf
from pydantic import BaseModel, Field
from werkzeug.wrappers import Response

from examsvc.accounts import operations as ops
from examsvc.accounts.auth import (
    admin_required,
    current_user,
    login_required,
    login_user,
    logout_user,
    refresh_login,
)
from examsvc.accounts.ids import mask
from examsvc.accounts.models import User
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.web.errors import ApiError, parse_json
from examsvc.web.i18n import gettext as _

bp = Blueprint("accounts", __name__)


def _policy() -> ops.LoginPolicy:
    config = current_app.config
    return ops.LoginPolicy(
        max_failures=config["LOGIN_MAX_FAILURES"],
        max_failures_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        lockout=timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"]),
    )


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.index")


def _attempt_login(login: str, password: str) -> User:
    try:
        user = ops.authenticate(
            login, password, request.remote_addr or "-", now=now(), policy=_policy()
        )
    except ops.LoginRefused:
        db.session.commit()  # failures and lockouts are kept
        raise
    db.session.commit()
    login_user(user)
    return user


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    login_value = ""
    if request.method == "POST":
        login_value = request.form.get("login", "").strip()
        password = request.form.get("password", "")
        if not login_value or not password:
            error = _("请输入证件号码（用户名）和密码")
        else:
            try:
                user = _attempt_login(login_value, password)
            except ops.LoginRefused as exc:
                error = _(exc.message)
            else:
                if user.must_change_password:
                    return redirect(url_for("accounts.change_password"))
                return redirect(_safe_next(request.args.get("next")))
    status = 200 if error is None else 401
    return render_template("accounts/login.html", error=error, login=login_value), status


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    user = current_user()
    assert user is not None
    problems: list[str] = []
    if request.method == "POST":
        form = request.form
        problems = ops.change_password(
            user, form.get("old", ""), form.get("new", ""), form.get("repeat", ""), now=now()
        )
        phone = form.get("phone", "").strip()
        if phone and not (len(phone) == 11 and phone.isdigit() and phone.startswith("1")):
            problems.append("请输入11位手机号码")
        if not problems:
            if phone:
                user.phone = phone
            db.session.commit()
            refresh_login(user)
            flash(_("密码修改成功"), "success")
            return redirect(url_for("web.index"))
        db.session.rollback()
    return render_template(
        "accounts/change_password.html", problems=[_(p) for p in problems], user=user
    ), (200 if not problems else 422)


# --- JSON API -------------------------------------------------------------------------


class LoginBody(BaseModel):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


def _session_json(user: User | None) -> dict[str, Any]:
    body: dict[str, Any] = {"csrf_token": generate_csrf(), "user": None}
    if user is not None:
        body["user"] = {
            "role": user.role.value,
            "display_name": user.display_name,
            "must_change_password": user.must_change_password,
        }
    return body


@bp.get("/api/v1/session")
def session_get() -> dict[str, Any]:
    return _session_json(current_user())


@bp.post("/api/v1/session")
def session_create() -> dict[str, Any]:
    body = parse_json(LoginBody)
    try:
        user = _attempt_login(body.login, body.password)
    except ops.LoginRefused as exc:
        status = 400 if exc.code == "invalid_id_number" else 401
        if exc.code.endswith("_locked"):
            status = 429
        raise ApiError(status, exc.code, exc.message) from None
    return _session_json(user)


@bp.delete("/api/v1/session")
def session_delete() -> dict[str, Any]:
    logout_user()
    return _session_json(None)


# --- administrators -------------------------------------------------------------------

STAFF_ROLES = (Role.ADMIN, Role.INVIGILATOR, Role.VIEWER)


@bp.get("/admin/users")
@admin_required
def staff_list() -> str:
    staff = db.session.scalars(
        sa.select(User).where(User.role != Role.PHYSICIAN).order_by(User.role, User.login)
    ).all()
    query = request.args.get("q", "").strip()
    physicians: list[dict[str, Any]] = []
    if query:
        from examsvc.roster.models import Physician

        like = f"%{query}%"
        rows = db.session.scalars(
            sa.select(Physician)
            .where(sa.or_(Physician.name.like(like), Physician.id_key == _key_or_none(query)))
            .order_by(Physician.name)
            .limit(50)
        ).all()
        physicians = [
            {
                "user_id": p.user_id,
                "name": p.name,
                "masked_id": mask(p.id_number),
                "institution": p.institution_name,
            }
            for p in rows
        ]
    return render_template(
        "accounts/staff_list.html",
        staff=staff,
        roles=STAFF_ROLES,
        query=query,
        physicians=physicians,
    )


def _key_or_none(text: str) -> str | None:
    from examsvc.accounts.ids import InvalidIdNumber, id_key

    try:
        return id_key(text)
    except InvalidIdNumber:
        return None


@bp.post("/admin/users")
@admin_required
def staff_create() -> Response:
    actor = current_user()
    assert actor is not None
    try:
        role = Role(request.form.get("role", ""))
        if role not in STAFF_ROLES:
            raise ValueError
    except ValueError:
        flash(_("请选择角色"), "error")
        return redirect(url_for("accounts.staff_list"))
    login = request.form.get("login", "").strip()
    name = request.form.get("name", "").strip()
    if not login or not name or len(login) > 64:
        flash(_("请填写用户名和姓名"), "error")
        return redirect(url_for("accounts.staff_list"))
    password = ops.generate_password()
    try:
        user = ops.create_staff(role, login, name, password, now=now())
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.staff_list"))
    record("user.create", "user", user.id, actor_id=actor.id, now=now(), role=role.value)
    db.session.commit()
    flash(
        _(
            "已创建账号 {login}，初始密码：{password}（仅显示一次，首次登录须修改）",
            login=login,
            password=password,
        ),
        "success",
    )
    return redirect(url_for("accounts.staff_list"))


@bp.post("/admin/users/<int:user_id>/active")
@admin_required
def staff_set_active(user_id: int) -> Response:
    actor = current_user()
    assert actor is not None
    user = db.get_or_404(User, user_id)
    if user.id == actor.id:
        flash(_("不能停用自己的账号"), "error")
        return redirect(url_for("accounts.staff_list"))
    user.active = request.form.get("active") == "1"
    record("user.active", "user", user.id, actor_id=actor.id, now=now(), active=user.active)
    db.session.commit()
    return redirect(url_for("accounts.staff_list"))


@bp.post("/admin/users/<int:user_id>/reset-password")
@admin_required
def reset_password(user_id: int) -> Response:
    actor = current_user()
    assert actor is not None
    user = db.get_or_404(User, user_id)
    password = ops.reset_password(user, now=now())
    record("user.reset_password", "user", user.id, actor_id=actor.id, now=now())
    db.session.commit()
    if user.role == Role.PHYSICIAN:
        flash(_("已将 {name} 的密码重置为初始密码 666666", name=user.display_name), "success")
    else:
        flash(
            _(
                "已重置 {login} 的密码：{password}（仅显示一次）",
                login=user.login,
                password=password,
            ),
            "success",
        )
    return redirect(url_for("accounts.staff_list", q=request.form.get("q") or None))
