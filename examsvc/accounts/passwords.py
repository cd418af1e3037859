"""Passwords: argon2id hashes and the manuals' rule for new passwords."""

from __future__ import annotations

import string

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from examsvc import offload
from examsvc.accounts.ids import to_15
from examsvc.marks import N_

INITIAL_PASSWORD = "666666"  # the manuals' initial password; a change is forced at first login

# argon2id at OWASP's first recommended minimum (19 MiB, 2 passes, 1 lane): about 23 ms of
# one core here, so ~40 logins per second per core (bench/bench_passwords.py,
# docs/benchmarks.md). An exam start where hundreds log in within a minute needs that rate;
# argon2-cffi's default (64 MiB, 3 passes, 4 lanes) cost ~170 ms of CPU per login. Hashes
# made with other parameters still verify and are rehashed at the next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def hash_password(password: str) -> str:
    """A new argon2id hash, computed on a thread (never on the event loop)."""
    return offload.hash_call(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches, checked on a thread (never on the event loop)."""
    return offload.hash_call(_verify, password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def _login_forms(login: str) -> set[str]:
    """The forms of a user name or ID number a password must not contain (upper case)."""
    forms = {login.strip().upper()}
    if len(login) == 18 and login[:17].isdigit() and login[6:8] == "19":
        forms.add(to_15(login))  # the 15-digit form of the same resident ID
    return {form for form in forms if len(form) >= 3}


def password_problems(
    new: str, *, old_hash: str | None = None, login: str | None = None
) -> list[str]:
    """Why ``new`` is not acceptable (Chinese messages); empty when it is."""
    problems = []
    if len(new) < 8:
        problems.append(N_("密码长度至少为8位"))
    classes = sum(
        (
            any(c.isupper() for c in new),
            any(c.islower() for c in new),
            any(c.isdigit() for c in new),
            any(c in string.punctuation for c in new),
        )
    )
    if classes < 3:
        problems.append(N_("密码须包含大写字母、小写字母、数字、特殊符号中的至少三种"))
    if INITIAL_PASSWORD in new:
        problems.append(N_("新密码不能包含初始密码 666666"))
    if login is not None and any(form in new.upper() for form in _login_forms(login)):
        problems.append(N_("新密码不能包含证件号码或用户名"))
    if old_hash is not None and verify_password(old_hash, new):
        problems.append(N_("新密码不能与原密码相同"))
    return problems
