"""``examsvc users …``: staff accounts and password resets from the command line."""

from __future__ import annotations

import os

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from examsvc import uow
from examsvc.accounts import operations as ops
from examsvc.accounts.models import User
from examsvc.audit.operations import record
from examsvc.clock import now
from examsvc.enums import Role
from examsvc.errors import DomainError
from examsvc.extensions import db

users = AppGroup("users", help="Staff accounts and password resets.")


@users.command("create")
@click.option("--role", type=click.Choice(["admin", "invigilator", "viewer"]), required=True)
@click.option("--login", required=True, help="User name.")
@click.option("--name", required=True, help="Display name.")
@click.option("--password-env", help="Take the password from this environment variable.")
@uow.transactional
def create(role: str, login: str, name: str, password_env: str | None) -> None:
    """Create a staff account (a change is forced at first login)."""
    password = os.environ.get(password_env, "") if password_env else ops.generate_password()
    if password_env and not password:
        raise click.ClickException(f"environment variable {password_env} is empty")
    try:
        user = ops.create_staff(Role(role), login, name, password, now=now())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    record("user.create", "user", user.id, actor_id=None, now=now(), role=role, via="cli")
    click.echo(f"created {role} {login}")
    if not password_env:
        click.echo(f"one-time password: {password}")


@users.command("reset-password")
@click.argument("login")
@uow.transactional
def reset(login: str) -> None:
    """Reset a password (physicians: back to 666666; staff: a generated one)."""
    try:
        user = ops.find_user(login)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if user is None:
        raise click.ClickException("no such account")
    password = ops.reset_password(
        user, now=now(), policy=ops.LoginPolicy.from_config(current_app.config)
    )
    record("user.reset_password", "user", user.id, actor_id=None, now=now(), via="cli")
    click.echo(f"password reset for {user.display_name}: {password}")


@users.command("list")
def list_users() -> None:
    """List staff accounts."""
    for user in db.session.scalars(
        sa.select(User).where(User.role != Role.PHYSICIAN).order_by(User.login)
    ):
        state = "active" if user.active else "inactive"
        click.echo(f"{user.login:20} {user.role.value:12} {state:9} {user.display_name}")
    count = db.session.scalar(sa.select(sa.func.count()).where(User.role == Role.PHYSICIAN))
    click.echo(f"({count} physician accounts)")
