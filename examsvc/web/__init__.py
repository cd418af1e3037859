"""The web shell: layout, language, errors, security headers, the home redirect."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from examsvc.web import errors
from examsvc.web.i18n import LANGUAGES, current_language, gettext

bp = Blueprint("web", __name__)

# Pages call nothing outside this origin (exam sites and hospital networks are locked down).
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@bp.get("/")
def index() -> Response:
    from examsvc.accounts.auth import current_user
    from examsvc.enums import Role

    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    if user.role == Role.PHYSICIAN:
        return redirect(url_for("attempts.home"))
    return redirect(url_for("admin.dashboard"))


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers and tools ask the root for it whatever a page links (the pages link static/)."""
    return current_app.send_static_file("favicon.ico")


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    target = request.args.get("next") or "/"
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax")
    return response


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness, with the face queues' depth and latency: the local pool when it runs, the
    RQ queues on Redis when one is configured."""
    from examsvc import faces

    body: dict[str, Any] = {"status": "ok"}
    if (metrics := faces.metrics()) is not None:
        body["faces"] = metrics
    if redis_url := current_app.config["REDIS_URL"]:
        body["faces_remote"] = faces.remote_metrics(redis_url)
    return body


BEIJING = timezone(timedelta(hours=8))


def beijing_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in Beijing time, as the manuals write them."""
    return "" if value is None else value.astimezone(BEIJING).strftime(fmt)


def nav_url(endpoint: str, **values: Any) -> str | None:
    """A URL for a menu or a link, or None while that feature has no such page or the
    logged-in user may not open it (the view's own role check decides)."""
    from examsvc.accounts.auth import current_user, may_open

    view = current_app.view_functions.get(endpoint)
    if view is None or not may_open(current_user(), view):
        return None
    return url_for(endpoint, **values)


def init_app(app: Flask) -> None:
    errors.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["nav_url"] = nav_url
    app.jinja_env.filters["beijing"] = beijing_time

    @app.before_request
    def forget_request_caches() -> None:
        # g lives as long as the app context, which may outlive one request.
        g.pop("user", None)
        g.pop("lang", None)

    @app.context_processor
    def inject_user() -> dict[str, Any]:
        from examsvc.accounts.auth import current_user

        return {"current_user": current_user(), "demo_mode": app.config["DEMO_MODE"]}

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(self), microphone=(), geolocation=()"
        )
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
