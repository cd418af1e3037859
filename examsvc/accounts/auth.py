"""Who is logged in, and the decorators every view uses to check the role."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, redirect, request, session, url_for

from examsvc.accounts.models import User
from examsvc.accounts.operations import end_sessions
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.web.errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> User | None:
    if "user" not in g:
        user = None
        uid = session.get("uid")
        if uid is not None:
            user = db.session.get(User, uid)
            # Logging out, a password change, a reset or a deactivation ends the session,
            # even for a copy of its cookie (checked on every request and socket connect).
            if user is None or not user.active or session.get("sv") != user.session_version:
                user = None
        g.user = user
    return cast(User | None, g.user)


def session_login() -> tuple[int, int] | None:
    """This session's (user id, session version), unchecked: for a hot path's statement
    that checks them itself, as ``current_user`` does (the user exists, is active and
    has that session version), instead of loading the user."""
    uid = session.get("uid")
    if uid is None:
        return None
    return int(uid), int(session.get("sv", -1))


def login_user(user: User) -> None:
    session.clear()  # no session fixation: a fresh session at every login
    session.permanent = True
    session["uid"] = user.id
    session["sv"] = user.session_version
    # This login on this device: the camera feature binds an entry verification to it.
    session["device"] = secrets.token_urlsafe(16)
    g.user = user


def refresh_login(user: User) -> None:
    """Keep this session valid after the user changed their own password (which ended
    every other session)."""
    session["sv"] = user.session_version
    g.user = user


def logout_user() -> None:
    """End this session and every copy of its cookie (the caller commits)."""
    user = current_user()
    if user is not None:
        end_sessions(user)
    session.clear()
    g.user = None


def _deny(status: int) -> Any:
    if request.path.startswith("/api/") or request.is_json:
        raise ApiError(
            status,
            "unauthorized" if status == 401 else "forbidden",
            N_("请先登录") if status == 401 else N_("您没有权限访问此页面"),
        )
    if status == 401:
        return redirect(url_for("accounts.login", next=request.full_path))
    raise ApiError(403, "forbidden", N_("您没有权限访问此页面"))


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Only logged-in users of these roles; a forced password change comes first."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _deny(401)
            if user.must_change_password and request.endpoint != "accounts.change_password":
                if request.path.startswith("/api/"):
                    raise ApiError(403, "password_change_required", N_("首次登录请先修改密码"))
                return redirect(url_for("accounts.change_password"))
            if roles and user.role not in roles:
                return _deny(403)
            return view(*args, **kwargs)

        # The menu asks the same question (may_open) instead of keeping its own role list.
        wrapped.allowed_roles = frozenset(roles) or frozenset(Role)  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def may_open(user: User | None, view: Callable[..., Any]) -> bool:
    """Whether ``user`` passes the role check of ``view`` (a view without one is public)."""
    roles: frozenset[Role] | None = getattr(view, "allowed_roles", None)
    if roles is None:
        return True
    return user is not None and user.role in roles


def nav_url(endpoint: str, **values: Any) -> str | None:
    """A URL for a menu or a link, or None while that feature has no such page or the
    logged-in user may not open it (the view's own role check decides)."""
    view = current_app.view_functions.get(endpoint)
    if view is None or not may_open(current_user(), view):
        return None
    return url_for(endpoint, **values)


login_required = roles_required()
physician_required = roles_required(Role.PHYSICIAN)
staff_required = roles_required(Role.ADMIN, Role.INVIGILATOR, Role.VIEWER)
admin_required = roles_required(Role.ADMIN)
