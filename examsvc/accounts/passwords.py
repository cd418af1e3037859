"""Passwords: argon2id hashes and the manuals' rule for new passwords."""

from __future__ import annotations

import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from examsvc.accounts.ids import to_15
from examsvc.marks import N_

INITIAL_PASSWORD = "666666"  # the manuals' initial password; a change is forced at first login
_hasher = PasswordHasher()  # argon2id, memory-hard (64 MiB, 3 passes)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
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
