"""The web shell: layout, language, errors, security headers. It knows nothing of who is
logged in: accounts (a feature above it) adds the home redirect, the current user and the
menu's links to the pages."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, request, session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from examsvc.clock import beijing_time
from examsvc.web import errors, i18n, openapi
from examsvc.web.i18n import LANGUAGES, current_language, gettext

bp = Blueprint("web", __name__)

# Pages call nothing outside this origin (exam sites and hospital networks are locked down).
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


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


def init_app(app: Flask) -> None:
    if hops := app.config["PROXY_HOPS"]:
        # The client's address (login throttling, /healthz) and scheme from the proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    i18n.init_app(app)
    errors.init_app(app)
    openapi.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals["_"] = gettext
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.filters["beijing"] = beijing_time

    @app.before_request
    def forget_request_caches() -> None:
        # g lives as long as the app context, which may outlive one request.
        g.pop("user", None)

    @app.context_processor
    def inject_mode() -> dict[str, Any]:
        return {"demo_mode": app.config["DEMO_MODE"]}

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
