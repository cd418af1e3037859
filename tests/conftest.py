"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL when
EXAMSVC_TEST_DATABASE_URL is set), an app with a frozen clock, clients, factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from redis import ConnectionError as RedisConnectionError
from redis import Redis

from examsvc import create_app
from examsvc.clock import FrozenClock
from examsvc.extensions import db

REPO = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("EXAMSVC_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
# 2026-05-12 09:00 Beijing time, inside a typical exam window.
T0 = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)


E2E = REPO / "tests" / "e2e"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist with ``--dist loadfile`` (scripts/test.sh): each test file goes
    whole to one worker (its module fixtures made once), except that the browser tests
    (tests/e2e) go together to one worker, in order, with one Chromium and one server at a
    time as in a plain run. They come first (the longest unit, see below), while the other
    worker takes the other files."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/e2e" if path.startswith("tests/e2e/") else path

    config.option.loadscopereorder = False  # in collection order: the browser tests first
    return BrowserTestsTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On pytest-xdist's workers, the browser tests first (see above)."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: not Path(item.path).is_relative_to(E2E))


@pytest.fixture(scope="session", autouse=True)
def english_catalog() -> None:
    """The compiled English catalog, as scripts/bootstrap.sh builds it (``pytest`` run
    straight from a checkout may find none yet, or one older than messages.po)."""
    po = REPO / "examsvc" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return
    with po.open("rb") as source:
        catalog = read_po(source)
    partial = mo.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as target:
        write_mo(target, catalog)
    partial.replace(mo)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("EXAMSVC_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    # A fresh PostgreSQL database for this run, dropped at the end.
    name = f"examsvc_test_{uuid.uuid4().hex[:10]}"
    admin_url = sa.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Build the schema by running the migrations, as a deployment does."""
    from flask_migrate import upgrade

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        }
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def app_settings(
    database_url: str, clock: FrozenClock, tmp_path: Path, **overrides: Any
) -> dict[str, Any]:
    """The test app's settings (the ``app`` fixture's), with ``overrides``."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "CLOCK": clock,
        "WTF_CSRF_ENABLED": False,  # tests/accounts/test_csrf.py turns it back on
        "SESSION_COOKIE_SECURE": False,
        "ROSTER_PULL_INTERVAL": 0,
    } | overrides


def running(settings: dict[str, Any]) -> Iterator[Flask]:
    """An app with ``settings`` in its context; afterwards its tables are emptied."""
    app = create_app(settings)
    with app.app_context():
        yield app
        db.session.remove()
        _clear_tables()
        db.engine.dispose()


@pytest.fixture
def app(migrated_database: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Flask]:
    yield from running(app_settings(migrated_database, clock, tmp_path))


def _clear_tables() -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def faces_dir() -> Path:
    """The shared face photos (never copied into the repository)."""
    path = Path(os.environ.get("EXAMSVC_FACES_DIR", REPO.parent / "shared" / "faces"))
    if not (path / "pairs.csv").exists():
        pytest.fail(f"face photos not found at {path}: set EXAMSVC_FACES_DIR")
    return path


@pytest.fixture(scope="session")
def faces_photos() -> dict[str, bytes]:
    """Registration-photo-sized JPEGs from the shared faces: one face, two, none."""
    from proctoring import frames
    from proctoring.config import FaceConfig
    from tests.proctoring.conftest import jpeg, landscape

    root = Path(os.environ.get("EXAMSVC_FACES_DIR", REPO.parent / "shared" / "faces"))
    if not (root / "pairs.csv").exists():
        pytest.fail(f"face photos not found at {root}: set EXAMSVC_FACES_DIR")

    def load(name: str) -> bytes:
        return jpeg(frames.decode((root / name).read_bytes(), FaceConfig(max_bytes=10**8)))

    return {
        "obama": load("face_recognition/obama.jpg"),
        "biden": load("face_recognition/biden.jpg"),
        "two": load("face_recognition/two_people.jpg"),
        "none": jpeg(landscape()),
        "broken": b"\xff\xd8\xff\xe0 this is not a whole jpeg",
    }


@pytest.fixture
def redis() -> Iterator[Redis]:
    """The real Redis (database 14). Required in CI, where .ci/run starts it; on a
    developer's machine without Redis the test is skipped, saying why."""
    client = Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except RedisConnectionError:
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield client
    client.close()
