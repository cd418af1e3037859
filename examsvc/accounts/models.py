"""Accounts: physicians (log in with their ID number) and staff."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from examsvc.db import UTCDateTime, enum_column, utcnow
from examsvc.enums import Role
from examsvc.extensions import Model

# Staff user names and physicians' document numbers are two namespaces: a roster record
# whose document number equals a staff user name is another account, never that one.
_IS_PHYSICIAN = sa.text("role = 'physician'")
_IS_STAFF = sa.text("role != 'physician'")


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    # Staff: a user name. Physicians: the canonical ID key (see accounts.ids.id_key).
    login: Mapped[str] = mapped_column(sa.String(64))
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    # Every session carries this number; logging out, a password change or a reset raises
    # it, so a copied cookie stops working at once (HTTP and socket).
    session_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("session_version >= 0", name="session_version_positive"),
        sa.Index(
            "uq_users_physician_login",
            "login",
            unique=True,
            sqlite_where=_IS_PHYSICIAN,
            postgresql_where=_IS_PHYSICIAN,
        ),
        sa.Index(
            "uq_users_staff_login",
            "login",
            unique=True,
            sqlite_where=_IS_STAFF,
            postgresql_where=_IS_STAFF,
        ),
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class LoginThrottle(Model):
    """Failed password checks of one (account, address) pair or of one address, shared by
    every server process. Keys are keyed hashes: the table holds no ID number or address."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # The pair's account (keyed hash), so that a reset can clear every pair of an account;
    # None for an address.
    account: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("failures >= 0", name="failures_positive"),)
