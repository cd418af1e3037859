"""The web shell: layout, language, errors, security headers, the home redirect."""

from __future__ import annotations

import ipaddress
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from examsvc.web import errors, i18n
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


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default``: the one check for every
    ``next=`` parameter. Browsers drop tabs and newlines and read a backslash as a slash, so
    ``/%09/evil.example`` would lead to ``//evil.example``: any control character, space or
    backslash is refused, as is anything with a scheme or a host."""
    if not target or len(target) > 2000:
        return default
    if any(c == "\\" or c.isspace() or unicodedata.category(c)[0] == "C" for c in target):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    # ``///host`` has no netloc for urllib but is a host for browsers.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.get("/lang/<code>")
def set_language(code: str) -> Response:
    response = redirect(safe_next(request.args.get("next")))
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax")
    return response


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """Up or down for everyone; the database, and the face queues' depth and latency (the
    local pool when it runs, the RQ queues on Redis when one is configured), only for staff
    and for a loopback address (the host's own monitoring)."""
    from examsvc import faces
    from examsvc.accounts.auth import current_user
    from examsvc.enums import Role
    from examsvc.extensions import db

    try:
        db.session.execute(sa.text("SELECT 1"))
        database = "ok"
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        database = "down"
    status = 200 if database == "ok" else 503
    body: dict[str, Any] = {"status": "ok" if status == 200 else "down"}
    user = current_user() if status == 200 else None
    if not (
        _is_loopback(request.remote_addr) or (user is not None and user.role != Role.PHYSICIAN)
    ):
        return body, status
    body["database"] = database
    if (metrics := faces.metrics()) is not None:
        body["faces"] = metrics
    if redis_url := current_app.config["REDIS_URL"]:
        body["faces_remote"] = faces.remote_metrics(redis_url)
    return body, status


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


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
    if hops := app.config["PROXY_HOPS"]:
        # The client's address (login throttling, /healthz) and scheme from the proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    i18n.init_app(app)
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

    @app.context_processor
    def inject_user() -> dict[str, Any]:
        from examsvc.accounts.auth import current_user

        return {"current_user": current_user(), "demo_mode": app.config["DEMO_MODE"]}

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")  # IE-mode browsers ignore CSP
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(self), microphone=(), geolocation=()"
        )
        # Nothing a logged-in person sees stays in a shared computer's cache (back button
        # after logout), nor does any API answer; static files are the same for everyone.
        logged_in = g.get("user") is not None or session.get("uid") is not None
        if request.path.startswith("/api/") or (logged_in and request.endpoint != "static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
