"""Extensions created here and bound to the app in the factory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so that migrations can address them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _SQLAlchemy(SQLAlchemy):
    def _make_engine(self, bind_key: str | None, options: dict[str, Any], app: Any) -> sa.Engine:
        """``create_engine`` itself: Flask-SQLAlchemy's ``engine_from_config`` would read
        ``pool_timeout`` as a whole number (``EXAMSVC_DB_POOL_TIMEOUT=0.5`` would become 0)."""
        options = dict(options)
        return sa.create_engine(options.pop("url"), **options)


db = _SQLAlchemy(model_class=Base)
migrate = Migrate()
socketio = SocketIO()
csrf = CSRFProtect()

if TYPE_CHECKING:  # mypy cannot see db.Model's dynamic base
    Model = Base
else:
    Model = db.Model


def table(name: str) -> sa.Table:
    """The table ``name`` of a feature above the caller, for a query that reads it.

    A feature never imports a feature above it (tests/test_imports.py): papers count the
    attempts of a paper, banks name the papers that draw from a bank, through the table
    (every model is registered by ``examsvc.models`` when the app is built)."""
    return db.metadata.tables[name]
