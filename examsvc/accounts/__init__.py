"""Accounts: login by ID number or user name, passwords, throttling, sessions, roles."""

from __future__ import annotations

from flask import Flask

from examsvc.accounts.auth import current_user, nav_url
from examsvc.marks import N_
from examsvc.web.openapi import add_part

# Each role in the manuals' words (the account pages and the audit log).
ROLE_LABELS = {
    "admin": N_("考核机构管理员"),
    "invigilator": N_("监考人员"),
    "viewer": N_("只读查看"),
    "physician": N_("医师"),
}


def init_app(app: Flask) -> None:
    # local import: a feature's views load when the app is built, not with its models
    from examsvc.accounts import cli, openapi, views
    from examsvc.accounts.sessions import RefreshingSessions

    # The cookie signed again when a few minutes old, not at every request.
    app.session_interface = RefreshingSessions()
    app.register_blueprint(views.bp)
    # Who is logged in, for every page (the shell in examsvc.web knows no accounts).
    app.jinja_env.globals["nav_url"] = nav_url
    app.context_processor(lambda: {"current_user": current_user()})
    app.cli.add_command(cli.users)
    add_part(app, openapi.PART)
