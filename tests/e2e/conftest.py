"""A real server (``examsvc serve`` on gevent, demo data) and Debian's Chromium."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
import sqlalchemy as sa

CHROMIUM = os.environ.get("EXAMSVC_CHROMIUM", "/usr/bin/chromium")
# Screenshots of every page a browser test visits, at a phone's and a desktop's width.
SCREENSHOTS = (
    Path(
        os.environ.get("EXAMSVC_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
    )
    / "screenshots"
)
WIDTHS = (360, 1366)
PHONE = {"width": 360, "height": 740}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None  # set by ``launch`` while it serves

    def command(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "examsvc.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


SERVERS: dict[str, Server] = {}  # by URL: the helpers below reach a server's database
_DEMO_TEMPLATE: list[Path] = []  # the run's one migrated demo instance folder, once made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``/healthz`` until the server answers (bounded); kill it and fail if it does not."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            # The server is starting (gunicorn listens before its worker has the app, so a
            # request may also time out): poll, bounded by the deadline.
            time.sleep(0.2)
    process.kill()
    pytest.fail("the server did not start:\n" + log.read_text())


def demo_env(root: Path, **extra_env: str) -> dict[str, str]:
    """The environment of a demo server whose database and data live in ``root``; no
    message queue unless ``extra_env`` gives an ``EXAMSVC_REDIS_URL``."""
    env = {
        **os.environ,
        "EXAMSVC_DEMO_MODE": "true",
        "EXAMSVC_INSTANCE_PATH": str(root),
        "EXAMSVC_DATABASE_URL": f"sqlite:///{root / 'e2e.db'}",
        "EXAMSVC_ROSTER_PULL_INTERVAL": "0",
        "EXAMSVC_FACE_WORKERS": "1",
    }
    env.pop("EXAMSVC_REDIS_URL", None)
    env.update(extra_env)
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process: SIGTERM, then SIGKILL if it has not ended in 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def demo_database(server: Server) -> None:
    """The server's database migrated (``examsvc db upgrade``) with the demo data loaded
    (``examsvc demo load``). On the demo's SQLite file both commands run once per test run,
    into a template instance folder that each server then copies (two CLI processes, ~6 s
    of CPU, saved per server); on another database (PostgreSQL) they run for each."""
    root = Path(server.env["EXAMSVC_INSTANCE_PATH"])
    if server.env["EXAMSVC_DATABASE_URL"] != demo_env(root)["EXAMSVC_DATABASE_URL"]:
        server.command("db", "upgrade")
        server.command("demo", "load")
        return
    if not _DEMO_TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="examsvc-demo-template-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        maker = Server("-", demo_env(template), template / "serve.log")
        maker.command("db", "upgrade")
        maker.command("demo", "load")
        _DEMO_TEMPLATE.append(template)
    root.mkdir(parents=True, exist_ok=True)
    for source in _DEMO_TEMPLATE[0].iterdir():
        if source.name == "secret_key":  # each server its own key, as before
            continue
        if source.is_dir():
            shutil.copytree(source, root / source.name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, root / source.name)


@contextmanager
def launch(root: Path, **extra_env: str) -> Iterator[Server]:
    """``examsvc serve`` on a fresh demo database in ``root``, stopped afterwards. Without
    an ``EXAMSVC_REDIS_URL`` in ``extra_env`` it runs with no message queue."""
    port = _free_port()
    env = demo_env(root, **extra_env)
    server = Server(f"http://127.0.0.1:{port}", env, root / "serve.log")
    SERVERS[server.url] = server
    demo_database(server)
    with (
        server.log.open("wb") as log,
        subprocess.Popen(
            [sys.executable, "-m", "examsvc.cli", "serve", "--port", str(port), "--no-jobs"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            wait_until_serving(server.url, process, server.log)
            server.process = process
            yield server
        finally:
            # Also when the test failed inside: otherwise the server runs on and the
            # run hangs until pytest's timeout.
            stop(process)
            SERVERS.pop(server.url, None)


@contextmanager
def fresh_database(prefix: str) -> Iterator[dict[str, str]]:
    """The server processes' one database: a fresh PostgreSQL database (dropped after) when
    the run is on PostgreSQL (``EXAMSVC_TEST_DATABASE_URL``), as deployed; else no setting,
    and ``demo_env``'s SQLite file serves."""
    base = os.environ.get("EXAMSVC_TEST_DATABASE_URL")
    if not base:
        yield {}
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_url = sa.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield {"EXAMSVC_DATABASE_URL": admin_url.set(database=name).render_as_string(False)}
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with launch(tmp_path_factory.mktemp("server")) as server:
        yield server


def physician_session(base: str, login: str, new_password: str) -> requests.Session:
    """A physician's HTTP session over the JSON API, past the forced first password change."""
    http = requests.Session()
    token = http.get(base + "/api/v1/session").json()["csrf_token"]
    response = http.post(
        base + "/api/v1/session",
        json={"login": login, "password": "666666"},
        headers={"X-CSRFToken": token},
    )
    assert response.ok, response.text
    token = http.get(base + "/api/v1/session").json()["csrf_token"]
    form = {"old": "666666", "new": new_password, "repeat": new_password, "csrf_token": token}
    changed = http.post(base + "/account/password", data=form, allow_redirects=False)
    assert changed.status_code == 302
    return http


def _session_cookie(holder) -> str:
    """The session cookie of a requests session or of a Playwright page's browser."""
    if isinstance(holder, requests.Session):
        return str(holder.cookies["session"])
    return next(c["value"] for c in holder.context.cookies() if c["name"] == "session")


@contextmanager
def server_database(base: str) -> Iterator[None]:
    """An application context on the server's database, in the test's process."""
    from examsvc import create_app
    from examsvc.extensions import db

    server = SERVERS[base]
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": server.env["EXAMSVC_DATABASE_URL"],
            "DATA_DIR": str(Path(server.env["EXAMSVC_INSTANCE_PATH"]) / "data"),
        }
    )
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def let_in(base: str, holder) -> None:
    """Pass the gate before an attempt for the physician logged in on ``holder`` (a requests
    session or a Playwright page), on that browser session: what the camera steps leave
    (tests/factories_exam.pass_gate), for tests that are not about the gate. The gate's own
    browser test takes the real path (test_camera_gate.py)."""
    from flask.json.tag import TaggedJSONSerializer
    from itsdangerous import URLSafeTimedSerializer

    from examsvc import clock
    from examsvc.extensions import db
    from examsvc.roster.queries import current_physician
    from tests.factories_exam import pass_gate

    # The payload is only signed, not encrypted: read it without the server's key.
    reader = URLSafeTimedSerializer("-", salt="cookie-session", serializer=TaggedJSONSerializer())
    _, session = reader.loads_unsafe(_session_cookie(holder))
    with server_database(base):
        physician = current_physician(session["uid"])
        assert physician is not None
        pass_gate(physician, session["device"], clock.now())
        db.session.commit()


def camera_file(faces_dir: Path, path: Path, photo: str = "face_recognition/obama.jpg") -> str:
    """A .y4m 'camera' showing a real face, for Chromium's fake capture device
    (``--use-file-for-fake-video-capture``; generated here, never committed)."""
    image = cv2.imread(str(faces_dir / photo))
    height, width = image.shape[:2]
    image = cv2.resize(image, (int(width * 480 / height) // 2 * 2, 480))[:, :640]
    canvas = np.full((480, 640, 3), 120, np.uint8)
    x = (640 - image.shape[1]) // 2
    canvas[:, x : x + image.shape[1]] = image
    frame = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            out.write(b"FRAME\n" + frame)
    return str(path)


@contextmanager
def camera_browser(browser, camera: str) -> Iterator:
    """A Chromium of its own whose fake capture device plays ``camera`` (a ``camera_file``)."""
    with browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--use-file-for-fake-video-capture={camera}"]
    ) as cam_browser:
        yield cam_browser


def enrol(page, server: Server, photo: bytes) -> None:
    """The registration photo (demo mode's enrolment, as the registry would send it)."""
    token = page.get_attribute("meta[name=csrf-token]", "content")
    answer = page.request.post(
        server.url + "/api/v1/demo/photo",
        multipart={"photo": {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}},
        headers={"X-CSRFToken": token},
    )
    assert answer.ok, answer.text()


@contextmanager
def gate_candidate(
    browser,
    server: Server,
    faces_dir: Path,
    tmp_path: Path,
    login: str,
    password: str,
    language: str | None = None,
) -> Iterator:
    """A candidate before the camera gate (进入测评), on a phone page under the page's own
    Content-Security-Policy, camera allowed, the camera showing the registered person
    (``camera_file``'s photo, also enrolled as the registration photo): past the first login
    (the password changed to ``password``), on /home; in ``language`` if given."""
    camera = camera_file(faces_dir, tmp_path / "obama.y4m")
    with camera_browser(browser, camera) as cam_browser:
        page = cam_browser.new_context(viewport=PHONE, permissions=["camera"]).new_page()
        if language:
            page.goto(f"{server.url}/lang/{language}?next=/login")
        first_login(page, server, login, password)
        enrol(page, server, (faces_dir / "face_recognition/obama.jpg").read_bytes())
        page.goto(server.url + "/home")
        yield page


def to_face_verification(page, start: str = "进入测评", consent: str = "同意授权") -> None:
    """From /home through the gate's first steps as a candidate does (``start``, the device
    check once the picture is good, ``consent``), until face verification can start."""
    with page.expect_navigation():
        page.click(f"text={start}")
    page.wait_for_selector("#instruction.good", timeout=60000)
    with page.expect_navigation():
        page.click("#next")
    with page.expect_navigation():
        page.click(f"text={consent}")
    page.wait_for_selector("#verify:enabled", timeout=60000)


def start_first_paper(base: str, http: requests.Session) -> dict:
    """Consent, pass the gate (a factory), then start the physician's first paper: the
    attempt as the API returns it."""
    headers = {"X-CSRFToken": http.get(base + "/api/v1/session").json()["csrf_token"]}
    assert http.post(base + "/api/v1/exam/consent", headers=headers).ok
    let_in(base, http)
    papers = http.get(base + "/api/v1/exam").json()["papers"]
    started = http.post(
        f"{base}/api/v1/exam/papers/{papers[0]['paper_id']}/attempts",
        json={"rules_acknowledged": True},
        headers=headers,
    )
    assert started.ok, started.text
    return started.json()


def some_answer(item: dict) -> object:
    """A valid response to a single-choice or true/false item (None for other types)."""
    if item["type"] == "true_false":
        return True
    return item["options"][0]["key"] if item["type"] == "single" else None


def cookie_header(http: requests.Session) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)}


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/bootstrap.sh --dev (installs Debian's chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def log_in(page, server: Server, login: str, password: str) -> None:
    """Log in on the login page, as a person types it, and wait for the page it leads to."""
    page.goto(server.url + "/login")
    page.fill("#login", login)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def first_login(page, server: Server, login: str, new_password: str) -> None:
    """Log in with the initial password and make the forced change."""
    page.goto(server.url + "/login")
    page.fill("#login", login)
    page.fill("#password", "666666")
    page.click("button[type=submit]")
    page.fill("#old", "666666")
    page.fill("#new", new_password)
    page.fill("#repeat", new_password)
    page.click("button[type=submit]")


def look(page, name: str) -> str:
    """What a person sees: save full-page screenshots of the page as it is now at 360 px and
    1366 px (``test-artifacts/screenshots/<name>-<width>.png``), give the viewport back, and
    return the page's visible text (hidden elements excluded, unlike ``text_content``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1366, "height": 800}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": size["height"]})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(size)
    return page.inner_text("body")


def enabled_controls(page) -> list[str]:
    """The labels of the buttons and links a person could click now: rendered and enabled.
    Visibility is what the browser renders (a ``hidden`` attribute that CSS overrides still
    shows its controls, so it must not excuse them)."""
    return page.eval_on_selector_all(
        "button, a[href], input[type=submit], input[type=radio], input[type=checkbox]",
        """els => els.filter(e => e.checkVisibility({visibilityProperty: true}) && !e.disabled)
                   .map(e => (e.innerText || e.value || e.getAttribute('aria-label') || '').trim())""",
    )
