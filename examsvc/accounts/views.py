"""Login, logout, password change, and the administrators' account pages."""

from __future__ import annotations

from collections.abc import Callable
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
from werkzeug.wrappers import Response

from examsvc import metrics, uow
from examsvc.accounts import ROLE_LABELS
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
from examsvc.accounts.schemas import (
    PASSWORD_LABELS,
    STAFF_LABELS,
    ActiveForm,
    ConfirmForm,
    LoginBody,
    PasswordForm,
    StaffForm,
)
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError, Invalid, Refused
from examsvc.extensions import db
from examsvc.web import safe_next
from examsvc.web.errors import (
    error_body,
    form_data,
    form_model,
    parse_json,
    problems_of,
    refuse_form,
)
from examsvc.web.i18n import gettext as _

bp = Blueprint("accounts", __name__)


@bp.get("/")
def index() -> Response:
    """Home: the login page, the physician's exam page or the staff's landing page."""
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    if user.role == Role.PHYSICIAN:
        return redirect(url_for("attempts.home"))
    return redirect(url_for("admin.dashboard"))


def _policy() -> ops.LoginPolicy:
    return ops.LoginPolicy.from_config(current_app.config)


def _address() -> str:
    return request.remote_addr or "-"


def _attempt_login(login: str, password: str) -> User:
    """Log in and audit it, or audit the refusal (masked ID, never the password), keep the
    failure count, and raise Refused."""
    try:
        user = ops.authenticate(login, password, _address(), now=now(), policy=_policy())
    except Refused as exc:
        metrics.LOGINS.labels(exc.code).inc()
        record(
            "login.failed",
            "user",
            None,
            actor_id=None,
            now=now(),
            login=mask(login.strip()),
            address=_address(),
            reason=exc.code,
        )
        raise  # the callers answer, not raise: the unit keeps the failure
    metrics.LOGINS.labels("ok").inc()
    record("login", "user", user.id, actor_id=user.id, now=now(), address=_address())
    login_user(user)
    return user


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    status = 200
    login_value = ""
    if request.method == "POST":
        login_value = str(form_data(LoginBody).get("login", "")).strip()
        try:
            body = form_model(LoginBody)
        except Invalid:
            error, status = _("请输入证件号码（用户名）和密码"), 400
        else:
            try:
                user = _attempt_login(body.login, body.password)
            except Refused as exc:
                error, status = _(exc.message, **exc.values), exc.status
            else:
                if user.must_change_password:
                    return redirect(url_for("accounts.change_password"))
                return redirect(safe_next(request.args.get("next"), url_for("accounts.index")))
    return render_template("accounts/login.html", error=error, login=login_value), status


def _logout() -> None:
    """End this session and every copy of its cookie."""
    user = current_user()
    if user is not None:
        record("logout", "user", user.id, actor_id=user.id, now=now())
    logout_user()


@bp.post("/logout")
def logout() -> Response:
    _logout()
    return redirect(url_for("accounts.login"))


# 首次登录人脸核验 is the camera's (a feature above accounts): it registers, in
# ``app.extensions[CLAIM_STEP]``, a function of the user about to set the first password
# that answers the page to show first (the face verification) or None (nothing to verify,
# or verified on this device).
CLAIM_STEP = "examsvc.claim_step"
ClaimStep = Callable[[User], Any]


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    user = current_user()
    assert user is not None
    if user.must_change_password and (step := current_app.extensions.get(CLAIM_STEP)):
        page = step(user)
        if page is not None:  # no first password before the face matches
            return page
    problems: list[str] = []
    if request.method == "POST":
        try:
            form = form_model(PasswordForm)
        except Invalid as exc:
            problems = problems_of(exc, PASSWORD_LABELS)
        else:
            try:
                problems = ops.change_password(
                    user,
                    form.old,
                    form.new,
                    form.repeat,
                    address=_address(),
                    now=now(),
                    policy=_policy(),
                )
            except Refused as exc:
                problems = [_(exc.message, **exc.values)]
            else:
                problems = [_(p) for p in problems]
        if not problems:
            if form.phone:
                user.phone = form.phone
            record("user.password_change", "user", user.id, actor_id=user.id, now=now())
            refresh_login(user)
            flash(_("密码修改成功"), "success")
            return redirect(url_for("accounts.index"))
        # Answered, not raised: the unit keeps the count of wrong current passwords.
    typed_phone = form_data(PasswordForm).get("phone") if request.method == "POST" else None
    return render_template(
        "accounts/change_password.html", problems=problems, user=user, phone=typed_phone
    ), (200 if not problems else 422)


# --- JSON API -------------------------------------------------------------------------


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
def session_create() -> Any:
    body = parse_json(LoginBody)
    try:
        user = _attempt_login(body.login, body.password)
    except Refused as exc:
        # Answered, not raised: the unit keeps the failure and its count.
        return error_body(exc), exc.status
    return _session_json(user)


@bp.delete("/api/v1/session")
def session_delete() -> dict[str, Any]:
    _logout()
    return _session_json(None)


# --- administrators -------------------------------------------------------------------

STAFF_ROLES = (Role.ADMIN, Role.INVIGILATOR, Role.VIEWER)

# The physicians whose password an administrator may reset are in the roster, a feature above
# accounts: it registers its search (name or ID number → at most 50 matches) in
# ``app.extensions[PHYSICIAN_SEARCH]`` when the app is built.
PHYSICIAN_SEARCH = "examsvc.physician_search"
PhysicianMatch = dict[str, Any]  # user_id, name, masked_id, institution
PhysicianSearch = Callable[[str], list[PhysicianMatch]]


@bp.get("/admin/users")
@admin_required
def staff_list() -> str:
    staff = db.session.scalars(
        sa.select(User).where(User.role != Role.PHYSICIAN).order_by(User.role, User.login)
    ).all()
    query = request.args.get("q", "").strip()
    physicians: list[PhysicianMatch] = []
    if query:
        search: PhysicianSearch = current_app.extensions[PHYSICIAN_SEARCH]
        physicians = search(query)
    return render_template(
        "accounts/staff_list.html",
        role_labels=ROLE_LABELS,
        staff=staff,
        roles=STAFF_ROLES,
        query=query,
        physicians=physicians,
    )


@bp.post("/admin/users")
@admin_required
def staff_create() -> Response:
    actor = current_user()
    assert actor is not None
    try:
        form = form_model(StaffForm)
        password = ops.generate_password()
        user = ops.create_staff(Role(form.role), form.login, form.name, password, now=now())
    except DomainError as exc:  # a bad field, or the user name taken
        refuse_form(exc, "staff", STAFF_LABELS, form_data(StaffForm))
        raise uow.Discard(lambda: redirect(url_for("accounts.staff_list"))) from None
    login, role = user.login, user.role
    record("user.create", "user", user.id, actor_id=actor.id, now=now(), role=role.value)
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
    user.active = form_model(ActiveForm).active
    record("user.active", "user", user.id, actor_id=actor.id, now=now(), active=user.active)
    return redirect(url_for("accounts.staff_list"))


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@admin_required
def reset_password(user_id: int) -> Any:
    """A confirmation page first; the reset happens only on a POST with ``confirm=1`` (which
    only that page's button sends)."""
    actor = current_user()
    assert actor is not None
    user = db.get_or_404(User, user_id)
    query = request.values.get("q", "").strip()
    if request.method == "GET" or not form_model(ConfirmForm).confirm:
        return render_template(
            "accounts/reset_confirm.html",
            user=user,
            masked_login=mask(user.login) if user.role == Role.PHYSICIAN else user.login,
            query=query,
        )
    password = ops.reset_password(user, now=now(), policy=_policy())
    record("user.reset_password", "user", user.id, actor_id=actor.id, now=now())
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
    return redirect(url_for("accounts.staff_list", q=query or None))
