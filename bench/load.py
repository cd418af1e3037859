"""Load benchmark (issue #14): N proctored candidates on phones against a real server.

Real Socket.IO clients over WebSocket (python-socketio), split over several generator
processes, against a real server that this script starts (embedded ``examsvc serve``, or
the scale-out shape of docs/deployment.md: one gunicorn gevent worker per core, its own
redis-server on a free port as the message queue, RQ face workers) on SQLite or on a
PostgreSQL cluster of its own (``initdb`` in a temporary folder, a free port).

It prepares N physicians of the demo cycle (bulk insert; password set, no forced change;
a registration photo from ../shared/faces with its encoding) and each candidate does what
the phone does: logs in (ID number + password), gives consent, queues for the entry check
as the page does (``admission``, asking again after the server's ``poll_in``, or at once on
``admission_turn``), passes it over the socket (frames made from its own photo; the server
runs with ``EXAMSVC_LIVENESS=false``: no movement challenge), starts the paper, fetches the
attempt's state, joins, saves an answer every ``--save-every`` s (jittered ±50 %) and sends
a ~40 KB 640×480 JPEG snapshot whenever the server asks (``next_in``, ``snapshot_request``).
The frames are made once per photo before the run (``camera_roll``), as a phone's camera
makes them without the server's CPU.

The exam day's invigilation (``--per-session 40``, the default; ``0`` leaves it out, as
runs before it): the candidates sit in ceil(N / 40) exam sessions (场次) of the window they
start, in order, each with an invigilator of its own (the product's ``create_session``,
``create_staff``, ``assign_invigilators``; the candidate rows in bulk). One more generator
process runs the invigilators' walls as static/js/wall.js does: log in, render
``/invigilate/sessions/<id>``, connect to ``/invigilate`` over WebSocket, ``join`` the
session (again after every reconnection, and on the server's ``rejoin``), and receive a
``candidate`` card at every change of one of its candidates (start, snapshot stored,
snapshot analysed, page events, warnings).

    .venv/bin/python bench/load.py --n 100 --duration 180 \\
        [--scenario steady|sync-start|checkin-start] [--config embedded|scale-out]
        [--db sqlite|postgresql]
        [--procs 3] [--per-session 40] [--profile] [--census]

    .venv/bin/python bench/load.py --url http://host:port --database-url URL --data-dir DIR
        (a server already running on that database: the bench prepares and checks through it)

Scenarios: ``steady`` (logins spread over ``--ramp``), ``sync-start`` (every candidate logs
in, verifies and starts within the same minute, through the admission queue) and
``checkin-start`` (候考, ``EXAMSVC_CHECKIN_MINUTES``: the logins and verifications over
``--ramp`` before the window opens, then every candidate taps 开始考试 within ``--spread``
seconds of the opening, loads the exam page (HTML) and opens its socket; reported from the
opening on: how long until each was ready, and the acks).

Measures: login, entry (the verification once admitted), start, state and connect latency
(p50/p99), the queue (seconds waited for a slot, the furthest place, the asks), answer-ack latency
(p50/p99/max), answers acknowledged vs stored (read back from the database), snapshot ack
and analysis latency (``analysed_at - received_at``), the backlog of pending snapshots
over time, skipped (shed) snapshots, CPU and memory of every process (psutil), and the
server's CPU ms per acknowledged save (steady window), per admitted candidate (login +
consent + entry + start + state, the admission phase) and per state fetch (a phase of
state fetches only). The walls: how many joined, the cards received (in all, per second of
the steady window and from the last candidate ready to the end, with their bytes), cards
per stored snapshot, and the cards' delay (p50/p99): from the snapshot's ``received_at`` to
the first card showing it, and from its ``analysed_at`` to the next card of it (a card
carries no time of its own: its ``thumb_id`` is looked up in the database afterwards; one
machine, one clock). ``--profile`` (embedded only) runs the server under cProfile for the
steady window (bench/profiled_serve.py) and prints the top functions; ``--census`` (embedded
only) counts the objects the server's garbage collector walks, by type, at its end.
Output: a table on stdout and ``bench/out/load-<config>-<db>-<scenario>-<n>.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import pstats
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
import socketio  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from PIL import Image  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

FACES = Path(os.environ.get("EXAMSVC_FACES_DIR", REPO.parent / "shared" / "faces"))
OUT = REPO / "bench" / "out"
PASSWORD = "Bench-Doc-2026"
ACK_TIMEOUT = 30  # seconds an answer may wait for its ack (the page gives up at 8 and replays)
POSTGRES_PID: list[int] = []  # the bench's own PostgreSQL postmaster, measured with the rest
PATIENCE = 60  # tries: a physician told 服务器繁忙 at an exam's start tries again, for minutes
SLOW_ACK = 8.0  # the browser's own timeout: an ack slower than this would be replayed

# --- preparing the server -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(url: str, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            if requests.get(url + "/healthz", timeout=2).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not start; log {log}:\n{log.read_text()[-3000:]}")


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "examsvc.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"examsvc {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextmanager
def postgres(root: Path):
    """A PostgreSQL cluster of the bench's own (initdb in a temporary folder, a free port,
    trust auth on 127.0.0.1), run as the ``postgres`` user when the bench runs as root."""
    home = Path(tempfile.mkdtemp(prefix="examsvc-load-pg-"))
    data, port = home / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{command[0]} failed: {done.stdout}{done.stderr}")

    run("initdb", "-D", str(data), "-U", "bench", "--auth=trust", "-E", "UTF8")
    options = (
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=300"
        " -c shared_buffers=128MB"
    )
    run("pg_ctl", "-D", str(data), "-l", str(home / "pg.log"), "-o", options, "-w", "start")
    try:
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "examsvc")
        POSTGRES_PID.append(int((data / "postmaster.pid").read_text().split()[0]))
        yield f"postgresql+psycopg://bench@127.0.0.1:{port}/examsvc"
    finally:
        subprocess.run(
            [*as_user, "pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(home, ignore_errors=True)


SNAPSHOT_FRAMES = 6  # snapshots made per photo, sent in turn at random
Roll = dict[str, dict[str, list[bytes]]]  # photo → its "entry" frames and "snapshots"


def registration_photos(limit: int = 24) -> list[tuple[Path, bytes, list[bytes]]]:
    """Real photos of distinct people that the engine accepts: (path, encoding bytes, the
    three entry frames made from it, which pass the entry check)."""
    from proctoring.engine import check_registration_photo, verify_entry

    seen: set[str] = set()
    found: list[tuple[Path, bytes, list[bytes]]] = []
    for line in (FACES / "identities.csv").read_text().splitlines()[1:]:
        image, identity = line.split(",", 1)
        if identity in seen or not image.startswith(("face_recognition/", "deepface/")):
            continue
        check = check_registration_photo((FACES / image).read_bytes())
        if not check.ok or check.encoding_bytes() is None:
            continue
        # Only photos whose camera frames (below) pass the entry check: the bench measures
        # admitted candidates, not the engine's accuracy.
        rng = random.Random(len(found))
        frames = [camera_jpeg(str(FACES / image), rng, 30_000) for _ in range(3)]
        if verify_entry(frames, check.encoding_bytes() or b"").code in ("passed", "review"):
            seen.add(identity)
            found.append((FACES / image, check.encoding_bytes() or b"", frames))
        if len(found) >= limit:
            break
    if not found:
        raise SystemExit(f"no usable registration photo under {FACES}")
    return found


def camera_roll(
    photos: list[tuple[Path, bytes, list[bytes]]],
) -> Roll:
    """Each photo's camera frames, made once before the run: its entry frames and
    SNAPSHOT_FRAMES snapshots of ~40 KB. A phone encodes its frames in its own hardware;
    made during the run (≈ 60 ms of CPU a frame here) they took the server's cores."""
    roll = {}
    for path, _encoding, entry in photos:
        rng = random.Random(str(path))
        snapshots = [camera_jpeg(str(path), rng) for _ in range(SNAPSHOT_FRAMES)]
        roll[str(path)] = {"entry": entry, "snapshots": snapshots}
    return roll


def prepare(
    database_url: str, data_dir: str, n: int, per_session: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Roll]:
    """N physicians of the demo cycle, in bulk: a set password (one argon2 hash for all),
    no forced change, a usable registration photo with its encoding. With ``per_session``,
    also the exam day's invigilation: ceil(N / per_session) exam sessions (场次) in the
    window of the paper the candidates start, the candidates assigned to them in order, and
    one invigilator per session (a set password, no forced change). Returns the candidates
    and the walls (one per session: its invigilator's login and the session's id), and
    the camera roll of the photos (:func:`camera_roll`)."""
    from examsvc import create_app
    from examsvc.accounts.models import User
    from examsvc.accounts.passwords import hash_password
    from examsvc.demo.data import CYCLE, demo_id
    from examsvc.enums import PhotoStatus
    from examsvc.extensions import db
    from examsvc.roster import operations
    from examsvc.roster.models import Physician
    from examsvc.roster.schemas import RosterItem

    first = 0  # ID numbers of people born in 1975 (the demo's are not): 1,000 per month
    numbers = [demo_id(i % 1000, f"1975{1 + i // 1000:02d}01") for i in range(first, first + n)]
    items = [
        RosterItem.model_validate(
            {
                "registration_id": f"LOAD-{i:05d}",
                "status": "approved",
                "id_type": "resident_id",
                "id_number": number,
                "name": f"压测医师{i}号",
                "institution": {"code": "DEMO-001", "name": "演示市第一人民医院"},
                "practice_category": "clinical",
                "physician_level": "physician",
                "procedure": "simple",
                "exemptions": [],
                "evaluation": {"work_performance": "pass", "ethics": "pass"},
            }
        )
        for i, number in zip(range(first, first + n), numbers, strict=True)
    ]
    photos = registration_photos()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "DATA_DIR": data_dir})
    candidates = []
    with app.app_context():
        cycle = operations.ensure_cycle(CYCLE)
        operations.import_items(cycle, items, now=datetime.now(UTC))
        db.session.flush()
        rows = db.session.execute(
            sa.select(Physician.id, Physician.user_id, Physician.registration_id).where(
                Physician.registration_id.like("LOAD-%")
            )
        ).all()
        by_registration = {r.registration_id: r for r in rows}
        password_hash = hash_password(PASSWORD)
        db.session.execute(
            sa.update(User)
            .where(User.id.in_([r.user_id for r in rows]))
            .values(
                password_hash=password_hash,
                must_change_password=False,
                password_changed_at=datetime.now(UTC),
            )
        )
        updates = []
        for k, (item, number) in enumerate(zip(items, numbers, strict=True)):
            path, encoding, _frames = photos[k % len(photos)]
            row = by_registration[item.registration_id]
            updates.append({"pid": row.id, "b_status": PhotoStatus.OK, "b_encoding": encoding})
            candidates.append({"index": k, "login": number, "photo": str(path)})
        table = Physician.__table__
        db.session.execute(
            table.update()
            .where(table.c.id == sa.bindparam("pid"))
            .values(
                photo_status=sa.bindparam("b_status"), face_encoding=sa.bindparam("b_encoding")
            ),
            updates,
        )
        walls = []
        if per_session > 0:
            walls = prepare_sessions(
                [by_registration[item.registration_id].id for item in items],
                per_session,
                password_hash,
            )
        db.session.commit()
        db.engine.dispose()
    return candidates, walls, camera_roll(photos)


def open_window_at(database_url: str, data_dir: str, when: datetime) -> None:
    """checkin-start: the regular windows open now open at ``when`` instead (the server reads
    windows on every request: nothing to restart)."""
    from examsvc import create_app
    from examsvc.enums import WindowRound
    from examsvc.extensions import db
    from examsvc.papers.models import ExamWindow

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "DATA_DIR": data_dir})
    with app.app_context():
        current = datetime.now(UTC)
        windows = db.session.scalars(
            sa.select(ExamWindow).where(
                ExamWindow.round == WindowRound.REGULAR,
                ExamWindow.opens_at <= current,
                ExamWindow.closes_at > current,
            )
        ).all()
        assert windows, "no regular window open now"
        for window in windows:
            window.opens_at = when
        db.session.commit()
        db.engine.dispose()


def prepare_sessions(
    physician_ids: list[int], per_session: int, password_hash: str
) -> list[dict[str, Any]]:
    """The sessions of the exam day, as the sessions page makes them (``create_session``,
    ``assign_invigilators`` and the rows ``assign_candidates`` inserts, in bulk), in the
    window of the paper the candidates start (the first they can start, as the bench's
    candidates choose). One invigilator account per session (``create_staff``)."""
    from examsvc.accounts import operations as accounts
    from examsvc.accounts.models import User
    from examsvc.attempts import operations as attempts
    from examsvc.enums import Role
    from examsvc.extensions import db
    from examsvc.invigilation import operations as invigilation
    from examsvc.invigilation.models import ExamSession, session_candidates
    from examsvc.papers.models import ExamWindow
    from examsvc.roster.models import Physician

    now = datetime.now(UTC)
    sample = db.session.get(Physician, physician_ids[0])
    assert sample is not None
    state = next(s for s in attempts.overview(sample, now).states if s.can_start)
    window = db.session.get(ExamWindow, state.window.id) if state.window else None
    assert window is not None
    # A second run on the same database (``--url``) finds its sessions and invigilators,
    # and empties the sessions before assigning the candidates again.
    sessions = {
        s.name: s
        for s in db.session.scalars(
            sa.select(ExamSession).where(
                ExamSession.window_id == window.id, ExamSession.name.like("压测场次%")
            )
        )
    }
    if sessions:
        db.session.execute(
            session_candidates.delete().where(
                session_candidates.c.session_id.in_([s.id for s in sessions.values()])
            )
        )
    walls = []
    rows = []
    for k in range((len(physician_ids) + per_session - 1) // per_session):
        name, login = f"压测场次{k + 1}", f"load-invigilator-{k + 1}"
        session = sessions.get(name) or invigilation.create_session(window, name, None)
        user = accounts.find_user(login) or accounts.create_staff(
            Role.INVIGILATOR, login, f"压测监考{k + 1}", PASSWORD, now=now
        )
        invigilation.assign_invigilators(session, [user.id])
        rows += [
            {"session_id": session.id, "physician_id": pid}
            for pid in physician_ids[k * per_session : (k + 1) * per_session]
        ]
        walls.append({"index": k, "login": login, "session_id": session.id, "user_id": user.id})
    db.session.execute(session_candidates.insert(), rows)
    db.session.execute(
        sa.update(User)
        .where(User.id.in_([w["user_id"] for w in walls]))
        .values(password_hash=password_hash, must_change_password=False, password_changed_at=now)
    )
    return walls


# --- one candidate (in a generator process) -------------------------------------------------


def camera_jpeg(photo: str, rng: random.Random, target: int = 40_000) -> bytes:
    """The photo as a phone's 640×480 camera frame: the face on a noisy background, JPEG
    re-encoded until it is about ``target`` bytes."""
    image = Image.open(photo).convert("RGB")
    scale = 400 / image.height
    image = image.resize((max(1, int(image.width * scale)), 400))
    noise = np.random.default_rng(rng.randrange(1 << 30)).integers(90, 150, (480, 640, 3))
    canvas = Image.fromarray(noise.astype(np.uint8))
    canvas.paste(
        image.crop((0, 0, min(640, image.width), 400)), ((640 - min(640, image.width)) // 2, 40)
    )
    best = b""
    for quality in (85, 75, 65, 55, 45, 35):
        out = io.BytesIO()
        canvas.save(out, "JPEG", quality=quality)
        best = out.getvalue()
        if len(best) <= target * 1.15:
            break
    return best


class Candidate:
    def __init__(
        self, spec: dict[str, Any], base: str, opts: dict[str, Any], roll: dict[str, list[bytes]]
    ) -> None:
        self.spec, self.base, self.opts, self.roll = spec, base, opts, roll
        self.rng = random.Random(spec["index"])
        self.times: dict[str, float] = {}  # phase → seconds
        self.errors: list[str] = []
        self.acks: list[tuple[float, float, str]] = []  # (wall time sent, seconds, code)
        self.acked: dict[int, int] = {}  # position → highest acknowledged seq ("saved")
        self.snapshots: list[tuple[float, float, str]] = []
        self.states: list[float] = []
        self.snapshot_asked = threading.Event()
        self.turn = threading.Event()  # admission_turn: a slot freed for this candidate
        self.stop = threading.Event()
        self.attempt_id: int | None = None
        self.ready_at: float | None = None
        self.checked_in_at: float | None = None  # checkin-start: verified, before the opening
        self.entry_retries = 0
        self.start_busy = 0
        self.http_busy = 0
        self.queue_wait = 0.0  # seconds waiting for a slot (排队)
        self.queue_ahead = 0  # the furthest place told
        self.queue_polls = 0
        self.disconnects: dict[str, int] = {}  # the socket's disconnect reasons, counted
        self.queue_turns = 0  # asks made at once on admission_turn

    def rejoin(self, client: socketio.Client) -> None:
        """After a reconnection, as the exam page: join the attempt's room again."""
        if self.attempt_id is not None:
            client.emit("exam_join", {"attempt_id": self.attempt_id}, namespace="/exam")

    def timed(self, name: str, call):
        started = time.monotonic()
        result = call()
        self.times[name] = time.monotonic() - started
        return result

    def run(self, start_at: float, end_at: float, state_phase: tuple[float, float]) -> None:
        try:
            self._run(start_at, end_at, state_phase)
        except Exception as exc:  # a failure is a result: counted, not fatal
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            self.stop.set()

    def _patient(self, call, tries: int = PATIENCE) -> requests.Response:
        """An HTTP call as a person makes it: on a 503 (busy, database_unavailable) wait
        ``Retry-After`` (with jitter) and try again, ``tries`` times; counted in
        ``http_busy``."""
        for _try in range(tries):
            response = call()
            if response.status_code != 503:
                return response
            self.http_busy += 1
            time.sleep(float(response.headers.get("Retry-After") or 2) * (1 + self.rng.random()))
        return response

    def _run(self, start_at: float, end_at: float, state_phase: tuple[float, float]) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        http = requests.Session()
        base = self.base

        def get(path: str) -> requests.Response:
            return self._patient(lambda: http.get(base + path, timeout=120))

        token = get("/api/v1/session").json()["csrf_token"]
        answer = self.timed(
            "login",
            lambda: self._patient(
                lambda: http.post(
                    base + "/api/v1/session",
                    json={"login": self.spec["login"], "password": PASSWORD},
                    headers={"X-CSRFToken": token},
                    timeout=120,
                ),
            ),
        )
        if not answer.ok:
            raise RuntimeError(f"login {answer.status_code} {answer.text[:100]}")
        headers = {"X-CSRFToken": get("/api/v1/session").json()["csrf_token"]}
        consent = self._patient(
            lambda: http.post(base + "/api/v1/exam/consent", headers=headers, timeout=120)
        )
        if not consent.ok:
            raise RuntimeError(f"consent {consent.status_code}")
        papers = get("/api/v1/exam").json()["papers"]
        paper_id = next(
            p["paper_id"]
            for p in papers
            if (p["checking_in"] if self.opts.get("opening") is not None else p["can_start"])
        )
        client = PageSocket(self)
        cookie = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)}
        client.on("snapshot_request", lambda *a: self.snapshot_asked.set(), namespace="/exam")
        client.on("admission_turn", lambda *a: self.turn.set(), namespace="/exam")

        def connect() -> None:
            try:
                client.open(base, cookie, self.rng)
            finally:
                self.http_busy += client.busy

        self.timed("connect", connect)
        for _try in range(5):
            self._queue(client)
            frames = self.roll["entry"]
            ack = self.timed(
                "entry",
                lambda frames=frames: client.call(
                    "entry_frames",
                    {"paper_id": paper_id, "frames": frames, "motion": []},
                    namespace="/exam",
                    timeout=120,
                ),
            )
            if ack and ack.get("admitted"):
                break
            if ack and ack.get("ok") and ack.get("outcome") == "retry":
                self.entry_retries += 1  # the page asks the candidate to try again
                continue
            if ack and not ack.get("ok") and ack.get("error", {}).get("code") == "not_admitted":
                continue  # the slot expired: the page queues again
            if ack and not ack.get("ok") and ack.get("status") == 503:
                time.sleep(2 + self.rng.random() * 3)  # busy: the page retries
                continue
            raise RuntimeError(f"entry refused: {json.dumps(ack, ensure_ascii=False)[:200]}")
        else:
            raise RuntimeError("entry: not admitted in five tries")
        opening = self.opts.get("opening")
        if opening is not None:
            # 候考: verified before the opening, the candidate waits on the rules page (no
            # socket) and taps 开始考试 within ``spread`` seconds of the opening.
            self.checked_in_at = time.time()
            client.disconnect()
            tap = opening + self.rng.random() * self.opts["spread"]
            if self.stop.wait(max(0.0, tap - time.time())):
                return
        for _try in range(5):  # a 503 (busy): the candidate taps again after retry_after
            started = self.timed(
                "start",
                lambda: http.post(
                    f"{base}/api/v1/exam/papers/{paper_id}/attempts",
                    json={"rules_acknowledged": True},
                    headers=headers,
                    timeout=120,
                ),
            )
            if started.status_code != 503:
                break
            self.start_busy += 1
            time.sleep(float(started.headers.get("Retry-After") or 2) * (1 + self.rng.random()))
        if not started.ok:
            raise RuntimeError(f"start {started.status_code} {started.text[:100]}")
        attempt = started.json()
        self.attempt_id = attempt["id"]
        items = [
            i
            for i in attempt["items"]
            if i["type"] in ("single", "true_false") and i.get("options") is not None
        ] or [i for i in attempt["items"] if i["type"] == "true_false"]
        if opening is not None:  # the browser follows the start to the exam page
            page = self.timed("exam_page", lambda: get(f"/exam/{self.attempt_id}"))
            if not page.ok:
                raise RuntimeError(f"exam page {page.status_code}")
        state = self.timed("state", lambda: get(f"/api/v1/exam/attempts/{self.attempt_id}"))
        if not state.ok:
            raise RuntimeError(f"state {state.status_code}")
        if opening is not None:  # the exam page opens its own socket
            client = PageSocket(self)
            client.on("snapshot_request", lambda *a: self.snapshot_asked.set(), namespace="/exam")
            self.timed("connect_at_start", connect)
        joined = client.call(
            "exam_join", {"attempt_id": self.attempt_id}, namespace="/exam", timeout=60
        )
        next_in = float((joined or {}).get("next_in") or 30)
        self.ready_at = time.time()
        camera = threading.Thread(
            target=self._snapshots, args=(client, next_in, end_at), daemon=True
        )
        camera.start()
        seq = 0
        state_fetched = False
        while time.time() < end_at:
            pause = self.opts["save_every"] * (0.5 + self.rng.random())
            if self.stop.wait(min(pause, max(0.0, end_at - time.time()))):
                break
            if time.time() >= end_at:
                break
            if not state_fetched and state_phase[0] <= time.time() < state_phase[1]:
                # The state-fetch phase: saves pause, each candidate fetches its state.
                time.sleep(self.rng.random() * (state_phase[1] - state_phase[0]) * 0.8)
                for _ in range(self.opts["state_fetches"]):
                    t = time.monotonic()
                    if http.get(f"{base}/api/v1/exam/attempts/{self.attempt_id}", timeout=120).ok:
                        self.states.append(time.monotonic() - t)
                state_fetched = True
                time.sleep(max(0.0, state_phase[1] - time.time()))
                continue
            seq += 1
            item = items[seq % len(items)]
            response = (
                True
                if item["type"] == "true_false"
                else item["options"][seq % len(item["options"])]["key"]
            )
            message = {
                "attempt_id": self.attempt_id,
                "position": item["position"],
                "response": response,
                "marked": False,
                "seq": seq,
                "journaled_at": datetime.now(UTC).isoformat(),
            }
            ack, (sent_wall, sent) = self._answer(client, message, end_at)
            if ack is None:
                continue
            code = (
                (ack or {}).get("code")
                if (ack or {}).get("ok")
                else f"refused:{(ack or {}).get('status')}"
            )
            self.acks.append((sent_wall, time.monotonic() - sent, str(code)))
            if code in ("saved", "late"):
                self.acked[item["position"]] = max(self.acked.get(item["position"], 0), seq)
        self.stop.set()
        camera.join(timeout=30)
        client.disconnect()

    def _answer(
        self, client: socketio.Client, message: dict[str, Any], end_at: float
    ) -> tuple[dict[str, Any] | None, tuple[float, float]]:
        """Send a save as the page does: on a 503 (busy, database_unavailable) wait its
        retry_after plus jitter whose range doubles with each refusal in a row (≤ 60 s, as
        exam.js), then send the same save again. Each busy answer is counted (code "busy")."""
        tries = 0
        while True:
            sent_wall, sent = time.time(), time.monotonic()
            try:
                ack = client.call("answer", message, namespace="/exam", timeout=ACK_TIMEOUT)
            except socketio.exceptions.SocketIOError:
                self.acks.append((sent_wall, ACK_TIMEOUT, "timeout"))
                return None, (sent_wall, sent)
            error = (ack or {}).get("error") or {}
            if (ack or {}).get("status") != 503 or time.time() >= end_at:
                return ack, (sent_wall, sent)
            self.acks.append((sent_wall, time.monotonic() - sent, "busy"))
            tries += 1
            base = max(1.0, float(error.get("retry_after") or 2))
            if self.stop.wait(min(60.0, base + self.rng.random() * base * 2 ** (tries - 1))):
                return None, (sent_wall, sent)

    def _queue(self, client: socketio.Client) -> None:
        """排队 as the page does: ask for a slot, and while waiting ask again after the
        server's ``poll_in``, or at once when told it is our turn (``admission_turn``); the
        time waited, the furthest place and the asks are results."""
        started = time.monotonic()
        while True:
            self.turn.clear()  # a turn told from now on is for this ask's answer
            ack = client.call("admission", {}, namespace="/exam", timeout=120) or {}
            if not ack.get("ok") and ack.get("status") == 503:  # busy: ask again later
                self.http_busy += 1
                time.sleep(float((ack.get("error") or {}).get("retry_after") or 2))
                continue
            if not ack.get("ok"):
                raise RuntimeError(f"admission: {json.dumps(ack, ensure_ascii=False)[:200]}")
            if ack["admitted"]:
                self.queue_wait += time.monotonic() - started
                return
            self.queue_ahead = max(self.queue_ahead, int(ack["ahead"]))
            self.queue_polls += 1
            if self.turn.wait(timeout=float(ack["poll_in"])):
                self.queue_turns += 1

    def _snapshots(self, client: socketio.Client, next_in: float, end_at: float) -> None:
        while True:
            self.snapshot_asked.wait(timeout=max(0.0, min(next_in, end_at - time.time())))
            self.snapshot_asked.clear()
            if self.stop.is_set() or time.time() >= end_at:
                return
            image = self.rng.choice(self.roll["snapshots"])
            sent_wall, sent = time.time(), time.monotonic()
            try:
                ack = client.call(
                    "snapshot",
                    {
                        "attempt_id": self.attempt_id,
                        "image": image,
                        "taken_at": datetime.now(UTC).isoformat(),
                    },
                    namespace="/exam",
                    timeout=20,
                )
            except socketio.exceptions.SocketIOError:
                self.snapshots.append((sent_wall, 20.0, "timeout"))
                next_in = 60
                continue
            ok = bool(ack and ack.get("ok"))
            self.snapshots.append(
                (
                    sent_wall,
                    time.monotonic() - sent,
                    "ok" if ok else f"refused:{(ack or {}).get('status')}",
                )
            )
            next_in = float(ack.get("next_in") or 60) if ok else 60


class PageSocket(socketio.Client):
    """A page's socket: like socket.io-client, it reconnects by itself (1–5 s apart) and
    joins again (its owner's ``rejoin``: the exam page its attempt, the wall its session);
    a call made meanwhile waits for the reconnection (≤ 60 s) instead of failing, as the
    page's journal would resend it. The disconnect reasons are counted in the owner's
    ``disconnects``."""

    def __init__(self, owner: Candidate | Wall, namespace: str = "/exam") -> None:
        super().__init__(reconnection=True, reconnection_delay=1, reconnection_delay_max=5)
        self.owner = owner
        self.namespace = namespace
        self.joined_before = False
        self.busy = 0  # connects refused (busy) and tried again
        self.on("disconnect", self._gone, namespace=namespace)
        self.on("connect", self._back, namespace=namespace)

    def open(self, base: str, cookie: dict[str, str], rng: random.Random) -> None:
        """The first connection; one refused (busy) is tried again, as the page does."""
        for attempt in range(6):
            try:
                self.connect(
                    base,
                    namespaces=[self.namespace],
                    headers=cookie,
                    transports=["websocket"],
                    wait_timeout=120,
                )
                return
            except socketio.exceptions.ConnectionError:
                if attempt == 5:
                    raise
                self.busy += 1
                time.sleep(2 * (1 + rng.random()))

    def _gone(self, reason: Any = None) -> None:
        if self.owner.stop.is_set():  # the run's own end
            return
        key = str(reason or "unknown")
        self.owner.disconnects[key] = self.owner.disconnects.get(key, 0) + 1

    def _back(self) -> None:
        if self.joined_before:
            self.owner.rejoin(self)
        self.joined_before = True

    def call(self, event: str, data: Any = None, namespace: str | None = None, timeout: int = 60):
        deadline = time.monotonic() + 60
        while True:
            try:
                return super().call(event, data, namespace=namespace, timeout=timeout)
            except socketio.exceptions.BadNamespaceError:
                if time.monotonic() > deadline or self.owner.stop.is_set():
                    raise
                time.sleep(0.5)


# --- one invigilator's wall (in the walls' generator process) -------------------------------


class Wall:
    """An invigilator's wall page (static/js/wall.js): logs in, renders the wall
    (``/invigilate/sessions/<id>``), connects to ``/invigilate``, joins the session's room
    (again on every reconnection, and when the server says ``rejoin``) and records every
    ``candidate`` card pushed: when it came, its candidate's attempt, its newest snapshot
    (``thumb_id``, whose stored and analysed times the database tells) and its size."""

    def __init__(self, spec: dict[str, Any], base: str) -> None:
        self.spec, self.base = spec, base
        self.rng = random.Random(1000 + spec["index"])
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.disconnects: dict[str, int] = {}
        self.cards: list[
            tuple[float, int | None, int | None, int]
        ] = []  # (t, attempt, thumb, bytes)
        self.joins = 0  # join acks received (the first and every re-join)
        self.join_cards = 0  # cards in those acks
        self.connected_at: float | None = None
        self.namespace = "/invigilate"

    def run(self, start_at: float, end_at: float) -> None:
        try:
            self._run(start_at, end_at)
        except Exception as exc:  # a failure is a result: counted, not fatal
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            self.stop.set()

    def _run(self, start_at: float, end_at: float) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        http = requests.Session()
        base = self.base
        token = http.get(base + "/api/v1/session", timeout=120).json()["csrf_token"]
        answer = http.post(
            base + "/api/v1/session",
            json={"login": self.spec["login"], "password": PASSWORD},
            headers={"X-CSRFToken": token},
            timeout=120,
        )
        if not answer.ok:
            raise RuntimeError(f"wall login {answer.status_code} {answer.text[:100]}")
        page = http.get(f"{base}/invigilate/sessions/{self.spec['session_id']}", timeout=120)
        if not page.ok:
            raise RuntimeError(f"wall page {page.status_code}")
        client = PageSocket(self, self.namespace)
        client.on("candidate", self._card, namespace=self.namespace)
        client.on("rejoin", lambda *a: self.rejoin(client), namespace=self.namespace)
        cookie = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)}
        client.open(base, cookie, self.rng)
        self._joined(
            client.call("join", {"session_id": self.spec["session_id"]}, namespace=self.namespace)
        )
        if self.joins:
            self.connected_at = time.time()
        self.stop.wait(max(0.0, end_at - time.time()))
        self.stop.set()
        client.disconnect()

    def rejoin(self, client: socketio.Client) -> None:
        """As the page: join again, the answer (emit's callback, not a blocking call in the
        client's event thread) carries the cards as they are now."""
        client.emit(
            "join",
            {"session_id": self.spec["session_id"]},
            namespace=self.namespace,
            callback=self._joined,
        )

    def _joined(self, ack: Any = None) -> None:
        if not (ack or {}).get("ok"):
            self.errors.append(f"join refused: {json.dumps(ack, ensure_ascii=False)[:200]}")
            return
        self.joins += 1
        self.join_cards += len(ack.get("cards") or [])

    def _card(self, message: Any = None) -> None:
        received = time.time()
        card = (message or {}).get("card") or {}
        size = len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())
        self.cards.append((received, card.get("attempt_id"), card.get("thumb_id"), size))


def generator(args: tuple) -> dict[str, Any]:
    """One generator process: its share of the candidates, one thread each."""
    specs, bases, opts, roll, starts, end_at, state_phase = args
    candidates = [
        Candidate(s, bases[s["index"] % len(bases)], opts, roll[s["photo"]]) for s in specs
    ]
    threads = [
        threading.Thread(
            target=c.run, args=(starts[c.spec["index"]], end_at, state_phase), daemon=True
        )
        for c in candidates
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(60.0, end_at - time.time() + 120))
    return {
        "candidates": [
            {
                "attempt_id": c.attempt_id,
                "times": c.times,
                "errors": c.errors,
                "acks": c.acks,
                "acked": c.acked,
                "snapshots": c.snapshots,
                "states": c.states,
                "ready_at": c.ready_at,
                "checked_in_at": c.checked_in_at,
                "entry_retries": c.entry_retries,
                "disconnects": c.disconnects,
                "start_busy": c.start_busy,
                "http_busy": c.http_busy,
                "queue": (c.queue_wait, c.queue_ahead, c.queue_polls, c.queue_turns),
                "start_at": starts[c.spec["index"]],
            }
            for c in candidates
        ]
    }


def wall_generator(args: tuple) -> dict[str, Any]:
    """The walls' generator process: every invigilator's wall, one thread each."""
    specs, bases, start_at, end_at = args
    walls = [Wall(s, bases[s["index"] % len(bases)]) for s in specs]
    threads = [
        threading.Thread(target=w.run, args=(start_at + 0.05 * k, end_at), daemon=True)
        for k, w in enumerate(walls)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(60.0, end_at - time.time() + 120))
    return {
        "walls": [
            {
                "session_id": w.spec["session_id"],
                "errors": w.errors,
                "disconnects": w.disconnects,
                "cards": w.cards,
                "joins": w.joins,
                "join_cards": w.join_cards,
                "connected_at": w.connected_at,
            }
            for w in walls
        ]
    }


# --- measuring ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class Monitor(threading.Thread):
    """Every second: CPU time and RSS of every process of the run (psutil)."""

    def __init__(
        self, processes: dict[str, int], database_url: str, urls: list[str] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.procs = {name: psutil.Process(pid) for name, pid in processes.items()}
        self.database_url = database_url
        self.urls = urls or []
        self.samples: list[dict[str, Any]] = []
        self.backlog: list[tuple[float, int]] = []
        self.loop: list[tuple[float, dict[str, float]]] = []  # the servers' loop metrics
        self.done = threading.Event()

    def cpu(self, name: str, children: bool = False) -> float:
        proc = self.procs[name]
        try:
            times = proc.cpu_times()
            total = times.user + times.system
            if children:
                for child in proc.children(recursive=True):
                    try:
                        t = child.cpu_times()
                        total += t.user + t.system
                    except psutil.Error:
                        pass
            return total
        except psutil.Error:
            return 0.0

    def run(self) -> None:
        engine = sa.create_engine(self.database_url)
        tick = 0
        while not self.done.wait(1.0):
            sample: dict[str, Any] = {"t": time.time()}
            for name, proc in self.procs.items():
                try:
                    group = [proc, *proc.children(recursive=True)]
                    sample[name] = {
                        "cpu_s": sum(
                            p.cpu_times().user + p.cpu_times().system
                            for p in group
                            if p.is_running()
                        ),
                        "main_cpu_s": sum(
                            p.cpu_times().user + p.cpu_times().system
                            for p in (
                                [proc, *proc.children()] if name.startswith("web") else [proc]
                            )
                        ),
                        "rss_mb": sum(p.memory_info().rss for p in group if p.is_running()) / 2**20,
                        "procs": len(group),
                        "runnable_s": runnable_seconds(group),
                    }
                except psutil.Error:
                    pass
            busy = psutil.cpu_times()
            sample["machine"] = {
                "busy_s": sum(busy) - busy.idle - getattr(busy, "iowait", 0.0),
                "all_s": sum(busy),
                "load1": os.getloadavg()[0],
            }
            self.samples.append(sample)
            tick += 1
            if tick % 5 == 0:
                try:
                    with engine.connect() as conn:
                        pending = conn.execute(
                            sa.text("SELECT count(*) FROM snapshots WHERE status = 'pending'")
                        ).scalar_one()
                    self.backlog.append((time.time(), int(pending)))
                except sa.exc.SQLAlchemyError:
                    pass
                self.loop.append((time.time(), loop_metrics(self.urls)))
        engine.dispose()

    def at(self, when: float) -> dict[str, Any]:
        return min(self.samples, key=lambda s: abs(s["t"] - when)) if self.samples else {}


LOOP_SERIES = ("examsvc_loop_lag_seconds", "examsvc_gc_pause_seconds")


def loop_metrics(urls: list[str]) -> dict[str, float]:
    """The servers' loop lag and GC pause histograms (``examsvc.loop``), summed over the
    web processes: ``name{le,generation}`` → value."""
    values: dict[str, float] = defaultdict(float)
    for url in urls:
        try:
            text = requests.get(url + "/metrics", timeout=5).text
        except requests.RequestException:
            continue
        for family in text_string_to_metric_families(text):
            if family.name not in LOOP_SERIES:
                continue
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[f"{sample.name}{{{labels}}}"] += sample.value
    return values


def loop_summary(monitor: Monitor, start: float, end: float) -> dict[str, Any]:
    """Between two scrapes nearest ``start`` and ``end``: how many lag readings were over
    100 and 250 ms, the worst bucket reached, and the GC pauses by generation."""
    if len(monitor.loop) < 2:
        return {}
    first = min(monitor.loop, key=lambda s: abs(s[0] - start))[1]
    last = min(monitor.loop, key=lambda s: abs(s[0] - end))[1]
    delta = {k: v - first.get(k, 0.0) for k, v in last.items()}
    lag = "examsvc_loop_lag_seconds"
    readings = delta.get(f"{lag}_count{{}}", 0.0)

    def over(bound: str) -> int:
        return round(readings - delta.get(f"{lag}_bucket{{le={bound}}}", 0.0))

    worst = max(
        (
            float(k.split("le=")[1].rstrip("}"))
            for k, v in delta.items()
            if k.startswith(f"{lag}_bucket") and v < readings
        ),
        default=0.0,
    )
    gc_pauses = {}
    for generation in ("0", "1", "2"):
        count = delta.get(f"examsvc_gc_pause_seconds_count{{generation={generation}}}", 0.0)
        total = delta.get(f"examsvc_gc_pause_seconds_sum{{generation={generation}}}", 0.0)
        gc_pauses[generation] = {
            "n": round(count),
            "total_ms": round(total * 1000, 1),
            "mean_ms": round(total * 1000 / count, 2) if count else None,
        }
    return {
        "lag_readings": round(readings),
        "lag_over_100ms": over("0.1"),
        "lag_over_250ms": over("0.25"),
        "lag_worst_over_s": worst,
        "lag_mean_ms": round(delta.get(f"{lag}_sum{{}}", 0.0) * 1000 / readings, 1)
        if readings
        else None,
        "gc": gc_pauses,
    }


def runnable_seconds(group: list[psutil.Process]) -> float:
    """Seconds the processes' threads waited on a run queue, runnable while another task had
    the core (``/proc/<pid>/task/*/schedstat``): a process short of CPU, at its priority,
    not one waiting for Redis or the database (that is sleep, not counted here)."""
    total = 0
    for p in group:
        for task in Path(f"/proc/{p.pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e9


def machine_steady(monitor: Monitor, steady: tuple[float, float]) -> dict[str, Any]:
    """The whole machine in the steady window: its cores' busy share (every process, the
    kernel's too) and the highest 1-minute load average."""
    a, b = monitor.at(steady[0]), monitor.at(steady[1])
    if "machine" not in a or "machine" not in b or b["machine"]["all_s"] <= a["machine"]["all_s"]:
        return {}
    busy = b["machine"]["busy_s"] - a["machine"]["busy_s"]
    loads = [s["machine"]["load1"] for s in monitor.samples if steady[0] <= s["t"] <= steady[1]]
    return {
        "busy_pct": round(100 * busy / (b["machine"]["all_s"] - a["machine"]["all_s"]), 1),
        "load1_max": round(max(loads), 2) if loads else None,
    }


def cpu_delta(
    monitor: Monitor, name: str, start: float, end: float, key: str = "main_cpu_s"
) -> float:
    a, b = monitor.at(start), monitor.at(end)
    if name not in a or name not in b:
        return 0.0
    return b[name][key] - a[name][key]


def check_database(database_url: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Every acknowledged save is stored: the stored seq of each acknowledged question is at
    least the highest acknowledged seq (a later save may only be higher)."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.attempt_id, i.position, a.seq FROM answers a "
                "JOIN attempt_items i ON i.id = a.item_id"
            )
        ).all()
        snapshots = conn.execute(
            sa.text("SELECT status, received_at, analysed_at FROM snapshots")
        ).all()
    engine.dispose()
    stored = {(r.attempt_id, r.position): r.seq for r in rows}
    acknowledged = lost = 0
    for c in results:
        for position, seq in c["acked"].items():
            acknowledged += 1
            if stored.get((c["attempt_id"], int(position)), 0) < seq:
                lost += 1
    ours = {c["attempt_id"] for c in results if c["attempt_id"]}
    stored_ours = sum(1 for (attempt, _), _seq in stored.items() if attempt in ours)
    analysis = []
    statuses: dict[str, int] = {}
    for s in snapshots:
        statuses[s.status] = statuses.get(s.status, 0) + 1
        if s.analysed_at is not None and s.received_at is not None:
            received, analysed = s.received_at, s.analysed_at
            if isinstance(received, str):
                received, analysed = (
                    datetime.fromisoformat(received),
                    datetime.fromisoformat(analysed),
                )
            analysis.append((analysed - received).total_seconds())
    return {
        "answers_acknowledged": acknowledged,
        "answers_stored": stored_ours,
        "answers_lost": lost,
        "snapshot_statuses": statuses,
        "snapshot_analysis_ms": {
            "p50": ms(pct(analysis, 0.5)),
            "p99": ms(pct(analysis, 0.99)),
            "max": ms(max(analysis) if analysis else None),
        },
    }


# --- the run --------------------------------------------------------------------------------


def start_servers(
    stack: ExitStack, args, root: Path, env: dict[str, str]
) -> tuple[list[str], dict[str, int]]:
    """The web processes (and Redis and face workers in scale-out): their URLs and pids."""
    processes: dict[str, int] = {}
    urls = []

    def spawn(
        name: str, command: list[str], extra: dict[str, str] | None = None
    ) -> subprocess.Popen:
        log = (root / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, env={**env, **(extra or {})}, stdout=log, stderr=subprocess.STDOUT
        )

        def stop() -> None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()

        stack.callback(stop)
        processes[name] = process.pid
        return process

    if args.config == "embedded":
        port = free_port()
        command = [sys.executable, "-m", "examsvc.cli"]
        if args.profile or args.census:
            command = [sys.executable, str(REPO / "bench" / "profiled_serve.py")]
        p = spawn(
            "server",
            [*command, "serve", "--port", str(port), "--no-jobs"],
            {
                "EXAMSVC_BENCH_PROFILE": str(root / "server.pstats"),
                "EXAMSVC_BENCH_CENSUS": str(root / "server-census.json"),
            },
        )
        urls.append(f"http://127.0.0.1:{port}")
        wait_serving(urls[0], p, root / "server.log")
        return urls, processes
    cores = os.cpu_count() or 2
    for k in range(1, args.face_workers + 1):
        spawn(
            f"faceworker{k}",
            [sys.executable, "-m", "proctoring.worker", "--redis", env["EXAMSVC_REDIS_URL"]],
        )
    for k in range(1, cores + 1):
        port = free_port()
        p = spawn(
            f"web{k}",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:examsvc.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "examsvc.wsgi:app",
            ],
        )
        urls.append(f"http://127.0.0.1:{port}")
        wait_serving(urls[-1], p, root / f"web{k}.log")
    return urls, processes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenario", choices=["steady", "sync-start", "checkin-start"], default="steady"
    )
    parser.add_argument("--config", choices=["embedded", "scale-out"], default="embedded")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument(
        "--duration", type=float, default=180, help="seconds after the last candidate may be ready"
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="steady: seconds over which logins are spread (default max(60, N/2))",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=30,
        help="seconds after the last login before the steady window (admission's time)",
    )
    parser.add_argument(
        "--spread",
        type=float,
        default=10.0,
        help="checkin-start: seconds after the opening over which the candidates tap 开始考试",
    )
    parser.add_argument("--save-every", type=float, default=10.0)
    parser.add_argument("--snapshot-mean", type=int, default=30)
    parser.add_argument("--state-fetches", type=int, default=3)
    parser.add_argument("--procs", type=int, default=3, help="generator processes")
    parser.add_argument(
        "--per-session",
        type=int,
        default=40,
        help="candidates per exam session, each watched by an invigilator's wall "
        "(0: no sessions, no walls, as the runs before them)",
    )
    parser.add_argument(
        "--face-workers", type=int, default=os.cpu_count() or 2, help="scale-out: RQ face workers"
    )
    parser.add_argument(
        "--profile", action="store_true", help="embedded: cProfile the steady window"
    )
    parser.add_argument(
        "--census",
        action="store_true",
        help="embedded: count the objects the server's garbage collector walks, by type,"
        " at the end of the steady window",
    )
    parser.add_argument("--url", help="an already running server (with --database-url, --data-dir)")
    parser.add_argument("--database-url")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="examsvc-load-"))
    label = f"{args.config}-{args.db}-{args.scenario}-{args.n}"
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        # The processes' logs are kept beside the JSON (the temporary folder is removed).
        logs = OUT / f"load-{label}-logs"
        stack.callback(
            lambda: [
                shutil.copy(log, logs / log.name)
                for log in root.glob("*.log")
                if logs.mkdir(exist_ok=True) or True
            ]
        )
        processes: dict[str, int] = {}
        if args.url:
            if not (args.database_url and args.data_dir):
                raise SystemExit("--url needs --database-url and --data-dir")
            urls, database_url, data_dir = [args.url], args.database_url, args.data_dir
        else:
            database_url = f"sqlite:///{root / 'load.db'}"
            if args.db == "postgresql":
                database_url = stack.enter_context(postgres(root))
            data_dir = str(root / "data")
            env = {
                **os.environ,
                "PYTHONPATH": str(REPO),
                "EXAMSVC_DEMO_MODE": "true",
                "EXAMSVC_INSTANCE_PATH": str(root),
                "EXAMSVC_DATA_DIR": data_dir,
                "EXAMSVC_DATABASE_URL": database_url,
                "EXAMSVC_ROSTER_PULL_INTERVAL": "0",
                "EXAMSVC_LIVENESS": "false",
                "EXAMSVC_SNAPSHOT_MEAN_SECONDS": str(args.snapshot_mean),
                "EXAMSVC_SOCKETS_PER_USER": "3",
            }
            env.pop("EXAMSVC_REDIS_URL", None)
            if args.config == "scale-out":
                from tests.redis_server import OwnRedis  # its own server, answering

                redis = OwnRedis(root)
                redis.start()
                stack.callback(redis.stop)
                assert redis.process is not None
                processes["redis"] = redis.process.pid
                env["EXAMSVC_REDIS_URL"] = redis.url
            cli(env, "db", "upgrade")
            cli(env, "demo", "load")
        t = time.monotonic()
        specs, wall_specs, roll = prepare(database_url, data_dir, args.n, args.per_session)
        prepared_s = time.monotonic() - t
        if not args.url:
            urls, started = start_servers(stack, args, root, env)
            processes.update(started)
            if POSTGRES_PID:
                processes["postgresql"] = POSTGRES_PID[0]
        # The schedule: when each candidate logs in; then the steady window and the phases.
        now = time.time() + 5
        rng = random.Random(14)
        opening = None
        if args.scenario == "sync-start":
            starts = {s["index"]: now + rng.random() * 60 for s in specs}
            ramp = 60.0
        else:
            ramp = args.ramp if args.ramp is not None else max(60.0, args.n / 2)
            starts = {s["index"]: now + ramp * k / max(1, args.n) for k, s in enumerate(specs)}
        admission_end = now + ramp + args.settle  # every candidate admitted by then, or overload
        if args.scenario == "checkin-start":
            # 候考: the logins and verifications over the ramp, the window opening after the
            # settle, every candidate tapping 开始考试 within ``spread`` s of the opening.
            opening = admission_end
            open_window_at(database_url, data_dir, datetime.fromtimestamp(opening, UTC))
            admission_end = opening + args.spread + 30
        end_at = admission_end + args.duration
        state_phase = (end_at - 40, end_at - 15)
        steady = (admission_end + 10, state_phase[0] - 5)
        procs = max(1, args.procs)
        shares = [specs[k::procs] for k in range(procs)]
        opts = {
            "save_every": args.save_every,
            "state_fetches": args.state_fetches,
            "opening": opening,
            "spread": args.spread,
        }
        pool_ctx = multiprocessing.get_context("spawn").Pool(procs + (1 if wall_specs else 0))
        stack.callback(pool_ctx.terminate)
        # The walls first: a process of their own, open before the first candidate logs in.
        walls_pending = (
            pool_ctx.apply_async(wall_generator, ((wall_specs, urls, now - 3, end_at),))
            if wall_specs
            else None
        )
        pending = pool_ctx.map_async(
            generator,
            [(share, urls, opts, roll, starts, end_at, state_phase) for share in shares],
        )
        time.sleep(1)
        for k, child in enumerate(psutil.Process().children()):
            if child.pid not in processes.values() and "resource_tracker" not in " ".join(
                child.cmdline()
            ):
                processes[f"gen{k}"] = child.pid
        monitor = Monitor(processes, database_url, urls)
        monitor.start()
        profiled = args.profile and "server" in processes
        if profiled:
            time.sleep(max(0.0, steady[0] - time.time()))
            os.kill(processes["server"], signal.SIGUSR1)
            time.sleep(max(0.0, steady[1] - time.time()))
            os.kill(processes["server"], signal.SIGUSR2)
        if args.census and "server" in processes:
            time.sleep(max(0.0, steady[1] - time.time()))
            os.kill(processes["server"], signal.SIGHUP)
        results = [
            c
            for part in pending.get(timeout=end_at - time.time() + 600)
            for c in part["candidates"]
        ]
        walls = walls_pending.get(timeout=300)["walls"] if walls_pending else []
        time.sleep(15)  # the face pool finishes the last snapshots
        monitor.done.set()
        monitor.join()
        report = summarise(
            args,
            label,
            results,
            monitor,
            database_url,
            starts,
            now,
            steady,
            state_phase,
            prepared_s,
        )
        report["loop_steady"] = loop_summary(monitor, *steady)
        if opening is not None:
            report["opening"] = opening_summary(results, monitor, opening)
            report["loop_opening"] = loop_summary(
                monitor, opening, opening + (report["opening"]["last_ready_s"] or 0) + 60
            )
        report["walls"] = walls_summary(args, walls, results, database_url, steady, end_at)
        if (root / "server-census.json").exists():
            report["census"] = json.loads((root / "server-census.json").read_text())
            print("census:", json.dumps(report["census"])[:3000])
        if profiled and (root / "server.pstats").exists():
            text = io.StringIO()
            pstats.Stats(str(root / "server.pstats"), stream=text).sort_stats(
                "tottime"
            ).print_stats(25)
            report["profile_top_tottime"] = text.getvalue()[-6000:]
            text = io.StringIO()
            pstats.Stats(str(root / "server.pstats"), stream=text).sort_stats(
                "cumulative"
            ).print_stats(40)
            report["profile_top_cumulative"] = text.getvalue()[-8000:]
        out = OUT / f"load-{label}.json"
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print_table(report)
        print(f"\nJSON: {out}")


def opening_summary(
    results: list[dict[str, Any]], monitor: Monitor, opening: float
) -> dict[str, Any]:
    """checkin-start: from the opening on. Ready = started, exam page loaded, state fetched,
    socket connected, joined; acks are those sent from the opening until 60 s after the last
    candidate was ready."""
    ready = sorted(c["ready_at"] - opening for c in results if c["ready_at"])
    checked_in = sum(1 for c in results if c.get("checked_in_at"))
    last = ready[-1] if ready else None
    until = opening + (last or 0) + 60
    acks = [
        a[1]
        for c in results
        for a in c["acks"]
        if opening <= a[0] < until and a[2] in ("saved", "late", "stale")
    ]
    connects = [c["times"]["connect_at_start"] for c in results if "connect_at_start" in c["times"]]
    server_names = [k for k in monitor.procs if k == "server" or k.startswith("web")]
    cpu = sum(cpu_delta(monitor, k, opening, opening + (last or 0) + 1) for k in server_names)
    return {
        "checked_in_before_opening": checked_in,
        "ready": len(ready),
        "ready_p50_s": round(pct(ready, 0.5) or 0, 1) if ready else None,
        "ready_p99_s": round(pct(ready, 0.99) or 0, 1) if ready else None,
        "last_ready_s": round(last, 1) if last is not None else None,
        "acks": len(acks),
        "ack_p50_ms": ms(pct(acks, 0.5)),
        "ack_p99_ms": ms(pct(acks, 0.99)),
        "ack_max_ms": ms(max(acks) if acks else None),
        "connect_at_start_p50_ms": ms(pct(connects, 0.5)),
        "connect_at_start_p99_ms": ms(pct(connects, 0.99)),
        "web_cpu_ms_per_ready": round(cpu * 1000 / len(ready), 2) if ready else None,
    }


def queue_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """排队: seconds waited for a slot, the furthest place told, the asks it took (and how
    many of them came at once on ``admission_turn``)."""
    waits = [c["queue"][0] for c in results]
    return {
        "waited": sum(1 for w in waits if w > 0.5),
        "wait_p50_s": round(pct(waits, 0.5) or 0, 1),
        "wait_max_s": round(max(waits, default=0), 1),
        "ahead_max": max((c["queue"][1] for c in results), default=0),
        "polls": sum(c["queue"][2] for c in results),
        "turns": sum(c["queue"][3] for c in results),
    }


def summarise(
    args, label, results, monitor, database_url, starts, t0, steady, state_phase, prepared_s
) -> dict[str, Any]:
    def phase(name: str) -> dict[str, Any]:
        values = [c["times"][name] for c in results if name in c["times"]]
        return {
            "n": len(values),
            "p50_ms": ms(pct(values, 0.5)),
            "p99_ms": ms(pct(values, 0.99)),
            "max_ms": ms(max(values) if values else None),
        }

    acks = [a for c in results for a in c["acks"]]
    ok_acks = [a for a in acks if a[2] in ("saved", "late", "stale")]
    in_steady = [a for a in ok_acks if steady[0] <= a[0] < steady[1]]
    window = steady[1] - steady[0]
    ready = [c["ready_at"] for c in results if c["ready_at"]]
    snaps = [s for c in results for s in c["snapshots"]]
    states = [s for c in results for s in c["states"]]
    first_start = min(starts.values())
    server_names = [k for k in monitor.procs if k == "server" or k.startswith("web")]

    def cpu_ms(start: float, end: float, count: int) -> float | None:
        if not count:
            return None
        total = sum(cpu_delta(monitor, k, start, end) for k in server_names)
        return round(total * 1000 / count, 2)

    last_ready = max(ready) if ready else None
    admitted = len(ready)
    admission = (first_start, (last_ready or first_start) + 1)
    processes = {}
    for name in monitor.procs:
        cpus = [s[name]["cpu_s"] for s in monitor.samples if name in s]
        rss = [s[name]["rss_mb"] for s in monitor.samples if name in s]
        if len(cpus) > 1:
            pts = [s for s in monitor.samples if name in s]
            steady_cpu = cpu_delta(monitor, name, steady[0], steady[1], "cpu_s")
            admit_cpu = cpu_delta(monitor, name, admission[0], admission[1], "cpu_s")
            main_steady = cpu_delta(monitor, name, steady[0], steady[1])
            runnable_steady = cpu_delta(monitor, name, steady[0], steady[1], "runnable_s")
            processes[name] = {
                # Waiting for a CPU (all threads), in % of the window: beside cpu_pct_steady,
                # a CPU-bound process short of CPU shows here, one waiting on I/O does not.
                "runnable_pct_steady": (
                    round(100 * runnable_steady / window, 1) if window > 0 else None
                ),
                "cpu_pct_steady": round(100 * steady_cpu / window, 1) if window > 0 else None,
                "main_cpu_pct_steady": (
                    round(100 * main_steady / window, 1) if window > 0 else None
                ),
                "cpu_pct_admission": round(
                    100 * admit_cpu / max(1.0, admission[1] - admission[0]), 1
                ),
                "cpu_s_total": round(cpus[-1] - cpus[0], 1),
                "rss_mb_max": round(max(rss), 1),
                "processes": max(p[name]["procs"] for p in pts),
            }
    database = check_database(database_url, results)
    errors: dict[str, int] = {}
    disconnects: dict[str, int] = {}
    for c in results:
        for reason, count in c.get("disconnects", {}).items():
            disconnects[reason] = disconnects.get(reason, 0) + count
    for c in results:
        for e in c["errors"]:
            errors[e[:80]] = errors.get(e[:80], 0) + 1
    ack_latency = [a[1] for a in ok_acks]
    steady_latency = [a[1] for a in in_steady]
    return {
        "label": label,
        "machine": {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
        "args": vars(args),
        "liveness": "disabled (EXAMSVC_LIVENESS=false)",
        "prepared_s": round(prepared_s, 1),
        "candidates": args.n,
        "admitted": admitted,
        "entry_retries": sum(c["entry_retries"] for c in results),
        "start_busy": sum(c.get("start_busy", 0) for c in results),
        "http_busy": sum(c.get("http_busy", 0) for c in results),
        "queue": queue_summary(results),
        "last_ready_after_first_login_s": round(last_ready - first_start, 1)
        if last_ready
        else None,
        "errors": errors,
        "disconnects": disconnects,
        "steady_window_s": [round(steady[0] - first_start, 1), round(steady[1] - first_start, 1)],
        "latency": {
            name: phase(name)
            for name in (
                "login",
                "connect",
                "entry",
                "start",
                "exam_page",
                "state",
                "connect_at_start",
            )
        },
        "state_fetch_phase": {
            "n": len(states),
            "p50_ms": ms(pct(states, 0.5)),
            "p99_ms": ms(pct(states, 0.99)),
        },
        "answers": {
            "sent": len(acks),
            "acked": len(ok_acks),
            "refused_or_timeout": len(acks) - len(ok_acks),
            "busy": sum(1 for a in acks if a[2] == "busy"),  # 503s, each resent after a pause
            "codes": {k: sum(1 for a in acks if a[2] == k) for k in sorted({a[2] for a in acks})},
            "ack_p50_ms": ms(pct(ack_latency, 0.5)),
            "ack_p99_ms": ms(pct(ack_latency, 0.99)),
            "ack_max_ms": ms(max(ack_latency) if ack_latency else None),
            "slower_than_8s": sum(1 for x in ack_latency if x > SLOW_ACK),
            "steady_ack_p50_ms": ms(pct(steady_latency, 0.5)),
            "steady_ack_p99_ms": ms(pct(steady_latency, 0.99)),
            "steady_saves_per_s": round(len(in_steady) / window, 1) if window > 0 else None,
        },
        "database": database,
        "snapshots": {
            "sent": len(snaps),
            "acked": sum(1 for s in snaps if s[2] == "ok"),
            "not_acked": sum(1 for s in snaps if s[2] != "ok"),
            "ack_p50_ms": ms(pct([s[1] for s in snaps], 0.5)),
            "ack_p99_ms": ms(pct([s[1] for s in snaps], 0.99)),
            "backlog_max": max((b for _, b in monitor.backlog), default=0),
            "backlog_samples": [(round(t - t0), b) for t, b in monitor.backlog][::3],
        },
        "cpu_ms_per_op": {
            "per_acked_save_steady": cpu_ms(steady[0], steady[1], len(in_steady)),
            "note_steady": "server process(es) main CPU in the steady window / acks in it "
            "(includes the snapshots' store and exam events of that window; face work is in "
            "the pool's children, not counted)",
            "per_admitted_candidate": cpu_ms(admission[0], admission[1], admitted),
            "note_admitted": "login + consent + overview + connect + entry (face work in the "
            "pool excluded) + start + state + join, plus the saves of those already in",
            "per_state_fetch": cpu_ms(state_phase[0], state_phase[1], len(states)),
            "note_state": "the state-fetch phase (saves paused; snapshots continue)",
        },
        "processes": processes,
        "machine_steady": machine_steady(monitor, steady),
    }


def _epoch(value: Any) -> float | None:
    """A stored time (a datetime, or SQLite's text) as epoch seconds (UTC when naive)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def walls_summary(
    args,
    walls: list[dict[str, Any]],
    results: list[dict[str, Any]],
    database_url: str,
    steady: tuple[float, float],
    end_at: float,
) -> dict[str, Any]:
    """The invigilators' walls: how many joined, the ``candidate`` cards they received (in
    all and per second of the steady window, with their bytes as JSON), and each card's
    delay from the time the database gives its newest snapshot: a card bringing a snapshot
    new to the wall, from the snapshot's ``received_at`` (stored → on the wall); the next
    card of that snapshot once analysed, from its ``analysed_at`` (analysed → on the wall).
    Same machine, same clock (with ``--url`` on another host the delays mean nothing)."""
    if not walls:
        return {"per_session": args.per_session, "sessions": 0}
    engine = sa.create_engine(database_url)
    ours = [c["attempt_id"] for c in results if c["attempt_id"]]
    with engine.connect() as conn:
        rows: list[Any] = (
            conn.execute(
                sa.select(sa.column("id"), sa.column("received_at"), sa.column("analysed_at"))
                .select_from(sa.table("snapshots"))
                .where(sa.column("attempt_id").in_(ours))
            ).all()  # type: ignore[assignment]
            if ours
            else []
        )
    engine.dispose()
    times = {r.id: (_epoch(r.received_at), _epoch(r.analysed_at)) for r in rows}
    stored_delay: list[float] = []
    analysed_delay: list[float] = []
    other = 0
    for w in walls:
        seen: dict[int, bool] = {}  # thumb → its analysed card counted
        for t, _attempt, thumb, _size in sorted(w["cards"]):
            received, analysed = times.get(thumb, (None, None)) if thumb else (None, None)
            if thumb is None or received is None:
                other += 1
            elif thumb not in seen:
                seen[thumb] = False
                stored_delay.append(t - received)
            elif not seen[thumb] and analysed is not None and t >= analysed - 0.001:
                seen[thumb] = True
                analysed_delay.append(t - analysed)
            else:
                other += 1
    cards = [c for w in walls for c in w["cards"]]
    in_steady = [c for c in cards if steady[0] <= c[0] < steady[1]]
    window = steady[1] - steady[0]
    # Also from the last candidate ready to the end (a short run has no steady window).
    last_ready = max((c["ready_at"] for c in results if c["ready_at"]), default=end_at)
    all_in = [c for c in cards if last_ready <= c[0] < end_at]
    all_in_s = end_at - last_ready
    errors: dict[str, int] = {}
    disconnects: dict[str, int] = {}
    for w in walls:
        for e in w["errors"]:
            errors[e[:80]] = errors.get(e[:80], 0) + 1
        for reason, count in w["disconnects"].items():
            disconnects[reason] = disconnects.get(reason, 0) + count
    connected = sum(1 for w in walls if w["connected_at"])
    return {
        "per_session": args.per_session,
        "sessions": len(walls),
        "connected": connected,
        "rejoins": sum(max(0, w["joins"] - 1) for w in walls),
        "join_cards": sum(w["join_cards"] for w in walls),
        "errors": errors,
        "disconnects": disconnects,
        "cards": len(cards),
        "cards_bytes": sum(c[3] for c in cards),
        "card_bytes_mean": round(sum(c[3] for c in cards) / len(cards)) if cards else None,
        "steady_cards": len(in_steady),
        "steady_cards_per_s": round(len(in_steady) / window, 1) if window > 0 else None,
        "steady_bytes_per_s": round(sum(c[3] for c in in_steady) / window) if window > 0 else None,
        "all_ready_cards_per_s": round(len(all_in) / all_in_s, 2) if all_in_s > 1 else None,
        "all_ready_bytes_per_s": round(sum(c[3] for c in all_in) / all_in_s)
        if all_in_s > 1
        else None,
        "snapshots_of_candidates": len(rows),
        "cards_per_snapshot": round(len(cards) / len(rows), 2) if rows else None,
        "cards_new_snapshot": len(stored_delay),
        "cards_analysed_snapshot": len(analysed_delay),
        "cards_other": other,
        "delay_stored_p50_ms": ms(pct(stored_delay, 0.5)),
        "delay_stored_p99_ms": ms(pct(stored_delay, 0.99)),
        "delay_analysed_p50_ms": ms(pct(analysed_delay, 0.5)),
        "delay_analysed_p99_ms": ms(pct(analysed_delay, 0.99)),
        "note": "cards_other: the attempt's start, page events, a card of a snapshot already "
        "shown; delay_stored: snapshot received_at → card on the wall; delay_analysed: "
        "analysed_at → the next card of that snapshot",
    }


def print_table(r: dict[str, Any]) -> None:
    print(f"\n== load {r['label']}  (liveness disabled; machine {r['machine']}) ==")
    q = r["queue"]
    print(
        f"queue: {q['waited']} waited, p50 {q['wait_p50_s']} s, max {q['wait_max_s']} s,"
        f" furthest place {q['ahead_max']}, {q['polls']} asks ({q['turns']} on a turn)"
    )
    print(
        f"admitted {r['admitted']}/{r['candidates']}, last ready {r['last_ready_after_first_login_s']} s after the first login"
    )
    if "opening" in r:
        o = r["opening"]
        print(
            f"opening: {o['checked_in_before_opening']} checked in before it; {o['ready']} ready,"
            f" p50 {o['ready_p50_s']} s, p99 {o['ready_p99_s']} s, last {o['last_ready_s']} s"
            f" after it; acks from it {o['acks']}, p50 {o['ack_p50_ms']} p99 {o['ack_p99_ms']}"
            f" max {o['ack_max_ms']} ms; connect p50 {o['connect_at_start_p50_ms']} p99"
            f" {o['connect_at_start_p99_ms']} ms; web CPU {o['web_cpu_ms_per_ready']} ms per ready"
        )
    for window in ("opening", "steady"):
        if lp := r.get(f"loop_{window}"):
            print(
                f"loop ({window}): {lp['lag_readings']} lag readings, mean {lp['lag_mean_ms']} ms,"
                f" {lp['lag_over_100ms']} over 100 ms, {lp['lag_over_250ms']} over 250 ms, worst"
                f" over {lp['lag_worst_over_s']} s; GC pauses by generation: "
                + ", ".join(f"{g}: {v['n']} × {v['mean_ms']} ms" for g, v in lp["gc"].items())
            )
    if r["errors"]:
        print("errors:", r["errors"])
    print(f"{'phase':<10}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, v in r["latency"].items():
        print(f"{name:<10}{v['n']:>6}{v['p50_ms']!s:>10}{v['p99_ms']!s:>10}{v['max_ms']!s:>10}")
    s = r["state_fetch_phase"]
    print(f"{'state*':<10}{s['n']:>6}{s['p50_ms']!s:>10}{s['p99_ms']!s:>10}")
    a = r["answers"]
    print(
        f"answers: sent {a['sent']}, acked {a['acked']}, refused/timeout {a['refused_or_timeout']} "
        f"(busy {a.get('busy', 0)}), "
        f"ack p50 {a['ack_p50_ms']} p99 {a['ack_p99_ms']} max {a['ack_max_ms']} ms, >8 s {a['slower_than_8s']}; "
        f"steady p99 {a['steady_ack_p99_ms']} ms at {a['steady_saves_per_s']} saves/s"
    )
    d = r["database"]
    print(
        f"database: acknowledged questions {d['answers_acknowledged']}, stored {d['answers_stored']}, lost {d['answers_lost']}"
    )
    sn = r["snapshots"]
    print(
        f"snapshots: sent {sn['sent']}, acked {sn['acked']}, not acked {sn['not_acked']}, ack p50 {sn['ack_p50_ms']} "
        f"p99 {sn['ack_p99_ms']} ms; analysis {d['snapshot_analysis_ms']}; statuses {d['snapshot_statuses']}; "
        f"backlog max {sn['backlog_max']}"
    )
    c = r["cpu_ms_per_op"]
    print(
        f"server CPU ms: per acked save {c['per_acked_save_steady']}, per admitted candidate "
        f"{c['per_admitted_candidate']}, per state fetch {c['per_state_fetch']}"
    )
    print(
        f"{'process':<14}{'CPU% steady':>12}{'(main)':>8}{'runnable%':>10}{'CPU% admit':>12}"
        f"{'CPU s':>8}{'RSS MB':>9}{'procs':>6}"
    )
    for name, p in r["processes"].items():
        print(
            f"{name:<14}{p['cpu_pct_steady']!s:>12}{p['main_cpu_pct_steady']!s:>8}"
            f"{p.get('runnable_pct_steady')!s:>10}"
            f"{p['cpu_pct_admission']!s:>12}{p['cpu_s_total']:>8}{p['rss_mb_max']:>9}"
            f"{p['processes']:>6}"
        )
    if r.get("machine_steady"):
        print(
            f"machine (steady window): cores {r['machine_steady']['busy_pct']} % busy,"
            f" load average up to {r['machine_steady']['load1_max']}"
        )
    if r["disconnects"]:
        print("socket disconnects (reason: count):", r["disconnects"])
    w = r.get("walls") or {}
    if w.get("sessions"):
        print(
            f"walls: {w['connected']}/{w['sessions']} connected ({w['per_session']} per session), "
            f"rejoins {w['rejoins']}; cards {w['cards']} ({w['cards_per_snapshot']} per snapshot"
            f" of {w['snapshots_of_candidates']}; {w['card_bytes_mean']} B each), steady "
            f"{w['steady_cards_per_s']} cards/s {w['steady_bytes_per_s']} B/s (all ready: "
            f"{w['all_ready_cards_per_s']} cards/s {w['all_ready_bytes_per_s']} B/s); delay stored→wall "
            f"p50 {w['delay_stored_p50_ms']} p99 {w['delay_stored_p99_ms']} ms, analysed→wall "
            f"p50 {w['delay_analysed_p50_ms']} p99 {w['delay_analysed_p99_ms']} ms"
        )
        if w["errors"] or w["disconnects"]:
            print("walls' errors:", w["errors"], "disconnects:", w["disconnects"])
    else:
        print("walls: none (--per-session 0)")
    steady_from, steady_to = r["steady_window_s"]
    if r["last_ready_after_first_login_s"] and r["last_ready_after_first_login_s"] > steady_from:
        print(
            f"NOTE: the steady window ({steady_from}-{steady_to} s) began before the last "
            "candidate was ready: it measured admission too"
        )


if __name__ == "__main__":
    main()
