"""Factories for the shared entities (flush only; tests commit when they need to)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from examsvc.accounts.models import User
from examsvc.accounts.passwords import hash_password
from examsvc.enums import (
    Evaluation,
    PhotoStatus,
    PhysicianLevel,
    PracticeCategory,
    Procedure,
    RegistrationStatus,
    Role,
)
from examsvc.extensions import db
from examsvc.roster.models import Cycle, Physician

_seq = itertools.count(1)
_hashes: dict[str, str] = {}


def _hash(password: str) -> str:
    # argon2 costs ~50 ms a hash by design; tests reuse one per password.
    if password not in _hashes:
        _hashes[password] = hash_password(password)
    return _hashes[password]


def resident_id(n: int, birth: str = "19800101") -> str:
    """A valid 18-digit resident ID number (ISO 7064 MOD 11-2 check digit)."""
    from examsvc.accounts.ids import check_digit

    body = f"430102{birth}{n % 1000:03d}"
    return body + check_digit(body)


def create_user(
    role: Role = Role.ADMIN,
    login: str | None = None,
    password: str = "Passw0rd!x",
    must_change_password: bool = False,
    **kw: Any,
) -> User:
    n = next(_seq)
    user = User(
        role=role,
        login=login or f"{role.value}{n}",
        display_name=kw.pop("display_name", f"{role.value} {n}"),
        password_hash=_hash(password),
        must_change_password=must_change_password,
        **kw,
    )
    db.session.add(user)
    db.session.flush()
    return user


def create_cycle(code: str = "HN-2026", **kw: Any) -> Cycle:
    cycle = Cycle(
        code=code,
        name=kw.pop("name", "2024-2026 周期"),
        starts_on=kw.pop("starts_on", date(2024, 1, 1)),
        ends_on=kw.pop("ends_on", date(2026, 12, 31)),
        **kw,
    )
    db.session.add(cycle)
    db.session.flush()
    return cycle


def create_physician(
    cycle: Cycle, procedure: Procedure = Procedure.SIMPLE, password: str = "Passw0rd!x", **kw: Any
) -> Physician:
    from examsvc.accounts.ids import id_key

    n = next(_seq)
    number = kw.pop("id_number", resident_id(n))
    user = kw.pop("user", None) or create_user(
        Role.PHYSICIAN,
        login=id_key(number),
        password=password,
        display_name=kw.get("name", f"演示医师{n}号"),
    )
    physician = Physician(
        cycle_id=cycle.id,
        registration_id=kw.pop("registration_id", f"{cycle.code}-{n:07d}"),
        user_id=user.id,
        status=kw.pop("status", RegistrationStatus.APPROVED),
        id_type="resident_id",
        id_number=number,
        id_key=id_key(number),
        name=kw.pop("name", f"演示医师{n}号"),
        institution_code=kw.pop("institution_code", "HN-430102-001"),
        institution_name=kw.pop("institution_name", "演示市人民医院"),
        practice_category=kw.pop("practice_category", PracticeCategory.CLINICAL),
        physician_level=kw.pop("physician_level", PhysicianLevel.PHYSICIAN),
        procedure=procedure,
        eval_work_performance=kw.pop("eval_work_performance", Evaluation.PASS),
        eval_ethics=kw.pop("eval_ethics", Evaluation.PASS),
        photo_status=kw.pop("photo_status", PhotoStatus.MISSING),
        **kw,
    )
    db.session.add(physician)
    db.session.flush()
    return physician


def login_as(client: Any, role: Role = Role.ADMIN, password: str = "Right-Pass1") -> User:
    """A new staff user of ``role``, committed and logged in on ``client``."""
    user = create_user(role, password=password)
    db.session.commit()
    client.post("/login", data={"login": user.login, "password": password})
    return user
