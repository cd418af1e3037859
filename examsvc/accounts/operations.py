"""Login, throttling and password operations (plain functions; the caller commits).

Failed password checks slow down the (account, address) pair that made them, and, more
loosely, the address: after ``free_failures`` failures a pair waits 1, 2, 4 … seconds
(capped) before its next try. Nothing locks an account, so failures from elsewhere never
keep the real user out, and an unknown ID number is counted and answered exactly like a
known one (no oracle of who is registered).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
from examsvc.errors import Conflict, Invalid, Refused
from examsvc.extensions import db
from examsvc.marks import N_

# Verifying against this when the account does not exist keeps the timing the same.
_DUMMY_HASH = hash_password(secrets.token_hex(8))
BAD_CREDENTIALS = N_("证件号码（用户名）或密码错误")


@dataclass(frozen=True)
class LoginPolicy:
    free_failures: int = 5  # per (account, address) pair before delays start
    free_failures_per_address: int = 50  # per address (a hospital's exam room shares one)
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)  # a quiet pair or address starts afresh
    secret: bytes = b""  # keys the hashes of the throttle table

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoginPolicy:
        """The ``EXAMSVC_LOGIN_*`` settings, keyed with the app's secret key."""
        return cls(
            free_failures=config["LOGIN_FREE_FAILURES"],
            free_failures_per_address=config["LOGIN_FREE_FAILURES_PER_ADDRESS"],
            max_delay=timedelta(seconds=config["LOGIN_MAX_DELAY_SECONDS"]),
            forget_after=timedelta(seconds=config["LOGIN_FORGET_SECONDS"]),
            secret=str(config["SECRET_KEY"]).encode(),
        )

    def delay(self, failures: int, free: int) -> timedelta | None:
        """The wait after the ``failures``-th failure: 2^(failures - free) s, capped."""
        if failures < free:
            return None
        seconds = 2 ** min(failures - free, 30)
        return min(timedelta(seconds=seconds), self.max_delay)


def find_user(login: str) -> User | None:
    """Staff by their exact user name among staff; otherwise a physician by ID number in any
    of its forms. The namespaces never mix: a physician's document number cannot reach a
    staff account, nor a staff user name a physician's.

    Raises :class:`InvalidIdNumber` for an 18-digit number with a wrong check digit.
    """
    name = login.strip()
    staff = db.session.scalars(
        sa.select(User).where(User.role != Role.PHYSICIAN, User.login == name)
    ).first()
    if staff is not None:
        return staff
    return db.session.scalars(
        sa.select(User).where(User.role == Role.PHYSICIAN, User.login == id_key(login))
    ).first()


# --- throttling -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    pair: str
    account: str
    address: str


def _keys(account: str, address: str, policy: LoginPolicy) -> _Keys:
    def digest(*parts: str) -> str:
        return hmac.new(policy.secret, "\0".join(parts).encode(), hashlib.sha256).hexdigest()

    return _Keys(
        pair=digest("pair", account, address),
        account=digest("account", account),
        address=digest("address", address),
    )


def account_of(login: str) -> str:
    """The account part of a throttle key: the same for every form of one ID number, and
    computed the same way whether or not the account exists."""
    try:
        return id_key(login)
    except InvalidIdNumber:
        return login.strip()


def throttle_wait(account: str, address: str, *, now: datetime, policy: LoginPolicy) -> int:
    """Seconds this pair (or address) must still wait before its next password check."""
    keys = _keys(account, address, policy)
    until = db.session.scalar(
        sa.select(sa.func.max(LoginThrottle.blocked_until)).where(
            LoginThrottle.key.in_((keys.pair, keys.address))
        )
    )
    if until is None or until <= now:
        return 0
    return math.ceil((until - now).total_seconds())


def throttled(seconds: int) -> Refused:
    """The refusal while a pair or address waits (the same for every account)."""
    if seconds < 120:
        return Refused("throttled", N_("尝试次数过多，请 {n} 秒后再试"), status=429, n=seconds)
    return Refused(
        "throttled", N_("尝试次数过多，请 {n} 分钟后再试"), status=429, n=math.ceil(seconds / 60)
    )


def count_failure(account: str, address: str, *, now: datetime, policy: LoginPolicy) -> None:
    """One more failed password check for the pair and the address (atomic in the database,
    so concurrent failures from one exam room are all counted)."""
    keys = _keys(account, address, policy)
    # Rows nobody needs any more (forgotten and not waiting) go, so the table stays small.
    db.session.execute(
        sa.delete(LoginThrottle)
        .where(
            LoginThrottle.last_failure_at < now - policy.forget_after,
            sa.or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
        .execution_options(synchronize_session=False)
    )
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for key, owner, free in (
        (keys.pair, keys.account, policy.free_failures),
        (keys.address, None, policy.free_failures_per_address),
    ):
        db.session.execute(
            insert(LoginThrottle)
            .values(key=key, account=owner, failures=0, last_failure_at=now)
            .on_conflict_do_nothing()
        )
        failures = db.session.execute(
            sa.update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(
                failures=sa.case(
                    (LoginThrottle.last_failure_at < now - policy.forget_after, 1),
                    else_=LoginThrottle.failures + 1,
                ),
                last_failure_at=now,
            )
            .returning(LoginThrottle.failures)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        if (delay := policy.delay(failures, free)) is not None:
            db.session.execute(
                sa.update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(blocked_until=now + delay)
                .execution_options(synchronize_session=False)
            )


def forget_failures(account: str, address: str | None, *, policy: LoginPolicy) -> None:
    """After a correct password (one pair) or a reset by the agency (every pair)."""
    keys = _keys(account, address or "", policy)
    where = LoginThrottle.key == keys.pair if address else LoginThrottle.account == keys.account
    db.session.execute(
        sa.delete(LoginThrottle).where(where).execution_options(synchronize_session=False)
    )


def check_password(
    user: User | None,
    account: str,
    password: str,
    address: str,
    *,
    now: datetime,
    policy: LoginPolicy,
) -> bool:
    """A throttled password check: refused while the pair or address waits; a failure is
    counted whether or not the account exists (the same work either way)."""
    if wait := throttle_wait(account, address, now=now, policy=policy):
        raise throttled(wait)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.active:
        count_failure(account, address, now=now, policy=policy)
        return False
    forget_failures(account, address, policy=policy)
    return True


def authenticate(
    login: str, password: str, address: str, *, now: datetime, policy: LoginPolicy
) -> User:
    """Check a login; raise Refused (the same for known and unknown accounts)."""
    try:
        user = find_user(login)
    except InvalidIdNumber as exc:
        raise Refused("invalid_id_number", exc.message, status=400) from None
    if not check_password(user, account_of(login), password, address, now=now, policy=policy):
        raise Refused("bad_credentials", BAD_CREDENTIALS, status=401)
    assert user is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.flush()
    return user


def end_sessions(user: User) -> None:
    """Every session of this user ends (logout, password change, reset)."""
    user.session_version += 1


def change_password(
    user: User,
    old: str,
    new: str,
    repeat: str,
    *,
    address: str,
    now: datetime,
    policy: LoginPolicy,
) -> list[str]:
    """Change a password; returns the problems (nothing changed) or an empty list. Guesses
    of the current password are throttled like logins (raises Refused)."""
    if not check_password(user, account_of(user.login), old, address, now=now, policy=policy):
        return [N_("原密码不正确")]
    problems = password_problems(new, old_hash=user.password_hash, login=user.login)
    if new != repeat:
        problems.append(N_("两次输入的新密码不一致"))
    if problems:
        return problems
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    end_sessions(user)
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
        raise Invalid("physician_account", N_("医师账号来自报名名单，不能在此创建"))
    taken = sa.select(User).where(User.role != Role.PHYSICIAN, User.login == login)
    if db.session.scalars(taken).first():
        raise Conflict("login_taken", N_("用户名 {login} 已存在", login=login))
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


def reset_password(user: User, *, now: datetime, policy: LoginPolicy) -> str:
    """Back to the initial password (physicians) or a generated one (staff); forces a change,
    ends every session, and lifts every wait on the account (the agency has verified the
    person: the real user's second way in)."""
    password = INITIAL_PASSWORD if user.role == Role.PHYSICIAN else generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    end_sessions(user)
    forget_failures(account_of(user.login), None, policy=policy)
    db.session.flush()
    return password


def ensure_physician_user(key: str, name: str, initial_hash: str, *, now: datetime) -> User:
    """The physician's account (created with the initial password hash if new)."""
    user = db.session.scalars(
        sa.select(User).where(User.role == Role.PHYSICIAN, User.login == key)
    ).first()
    if user is None:
        user = new_physician_user(key, name, initial_hash, now=now)
        db.session.flush()
    elif user.display_name != name:
        user.display_name = name
    return user


def physician_users(keys: Collection[str], chunk: int = 500) -> dict[str, User]:
    """The physicians' accounts of these ID keys, by key: one query per ``chunk`` keys (a
    roster page), instead of one each."""
    ordered = sorted(set(keys))
    found: dict[str, User] = {}
    for i in range(0, len(ordered), chunk):
        for user in db.session.scalars(
            sa.select(User).where(
                User.role == Role.PHYSICIAN, User.login.in_(ordered[i : i + chunk])
            )
        ):
            found[user.login] = user
    return found


def new_physician_user(key: str, name: str, initial_hash: str, *, now: datetime) -> User:
    """A new physician's account with the initial password hash (added; the caller flushes)."""
    user = User(
        role=Role.PHYSICIAN,
        login=key,
        display_name=name,
        password_hash=initial_hash,
        must_change_password=True,
        created_at=now,
    )
    db.session.add(user)
    return user
