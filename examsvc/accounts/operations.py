"""Login, lockout and password operations (plain functions; the caller commits)."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from examsvc.accounts.ids import InvalidIdNumber, id_key
from examsvc.accounts.models import LoginThrottle, User
from examsvc.accounts.passwords import (
    INITIAL_PASSWORD,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from examsvc.enums import Role
from examsvc.extensions import db

BEIJING = timezone(timedelta(hours=8))
# Verifying against this when the account does not exist keeps the timing the same.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    max_failures_per_address: int = 30
    lockout: timedelta = timedelta(minutes=15)


class LoginRefused(Exception):
    """Login refused; ``message`` is for the person (Chinese), ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def find_user(login: str) -> User | None:
    """The account for a staff user name or an ID number in any of its forms.

    Raises :class:`InvalidIdNumber` for an 18-digit number with a wrong check digit.
    """
    key = id_key(login)
    user = db.session.scalars(sa.select(User).where(User.login == key)).first()
    if user is None and key != login.strip():
        user = db.session.scalars(sa.select(User).where(User.login == login.strip())).first()
    return user


def _locked_message(until: datetime) -> str:
    return f"登录失败次数过多，已被锁定，请于 {until.astimezone(BEIJING):%H:%M} 后再试"


def authenticate(
    login: str, password: str, address: str, *, now: datetime, policy: LoginPolicy
) -> User:
    """Check a login; count failures per account and per address; raise LoginRefused."""
    throttle = db.session.get(LoginThrottle, address)
    if throttle is not None and throttle.locked_until and throttle.locked_until > now:
        raise LoginRefused("address_locked", _locked_message(throttle.locked_until))
    try:
        user = find_user(login)
    except InvalidIdNumber as exc:
        raise LoginRefused("invalid_id_number", exc.message) from None

    if user is not None and user.locked_until and user.locked_until > now:
        raise LoginRefused("account_locked", _locked_message(user.locked_until))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        _count_failure(user, address, throttle, now, policy)
        raise LoginRefused("bad_credentials", "证件号码（用户名）或密码错误")

    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.flush()
    return user


def _count_failure(
    user: User | None,
    address: str,
    throttle: LoginThrottle | None,
    now: datetime,
    policy: LoginPolicy,
) -> None:
    if user is not None:
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + policy.lockout
            user.failed_logins = 0
    if throttle is None:
        throttle = LoginThrottle(address=address, failures=0, window_start=now)
        db.session.add(throttle)
    if now - throttle.window_start > policy.lockout:
        throttle.failures, throttle.window_start = 0, now
    throttle.failures += 1
    if throttle.failures >= policy.max_failures_per_address:
        throttle.locked_until = now + policy.lockout
        throttle.failures, throttle.window_start = 0, now
    db.session.flush()


def change_password(user: User, old: str, new: str, repeat: str, *, now: datetime) -> list[str]:
    """Change a password; returns the problems (nothing changed) or an empty list."""
    if not verify_password(user.password_hash, old):
        return ["原密码不正确"]
    problems = password_problems(new, old_hash=user.password_hash)
    if new == INITIAL_PASSWORD and "新密码不能与原密码相同" not in problems:
        problems.append("不能使用初始密码")
    if new != repeat:
        problems.append("两次输入的新密码不一致")
    if problems:
        return problems
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    db.session.flush()
    return []


def generate_password() -> str:
    """A strong one-time password for a new or reset staff account."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(10)) + "!"
        if not password_problems(candidate):
            return candidate


def create_staff(role: Role, login: str, name: str, password: str, *, now: datetime) -> User:
    if role == Role.PHYSICIAN:
        raise ValueError("physician accounts come from the roster")
    if db.session.scalars(sa.select(User).where(User.login == login)).first():
        raise ValueError(f"用户名 {login} 已存在")
    user = User(
        role=role,
        login=login,
        display_name=name,
        password_hash=hash_password(password),
        must_change_password=True,
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    return user


def reset_password(user: User, *, now: datetime) -> str:
    """Back to the initial password (physicians) or a generated one (staff); forces a change."""
    password = INITIAL_PASSWORD if user.role == Role.PHYSICIAN else generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    return password


def ensure_physician_user(key: str, name: str, initial_hash: str, *, now: datetime) -> User:
    """The physician's account (created with the initial password hash if new)."""
    user = db.session.scalars(sa.select(User).where(User.login == key)).first()
    if user is None:
        user = User(
            role=Role.PHYSICIAN,
            login=key,
            display_name=name,
            password_hash=initial_hash,
            must_change_password=True,
            created_at=now,
        )
        db.session.add(user)
        db.session.flush()
    elif user.display_name != name:
        user.display_name = name
    return user
