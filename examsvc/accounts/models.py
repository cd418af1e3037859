"""Accounts: physicians (log in with their ID number) and staff."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from examsvc.db import UTCDateTime, enum_column, utcnow
from examsvc.enums import Role
from examsvc.extensions import Model


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    # Staff: a user name. Physicians: the canonical ID key (see accounts.ids.id_key).
    login: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 人脸信息采集授权: when the physician consented, and to which text version.
    face_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    face_consent_version: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (sa.CheckConstraint("failed_logins >= 0", name="failed_logins_positive"),)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class LoginThrottle(Model):
    """Failed logins from one client address, shared by every server process."""

    __tablename__ = "login_throttles"

    address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
