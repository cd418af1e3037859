"""The RQ face workers' throughput against the in-process face pool, on the same snapshots
(issue #14: in the scale-out shape the RQ face queue fell minutes behind while each RQ face
worker used about 12 % of a core; the embedded pool kept up).

    .venv/bin/python bench/bench_rq_faces.py [--jobs 300] [--workers 1] [--hook record]
        [--database-url URL] [--nice 10] [--no-pool] [--profile FILE] [--strace FILE]

The bench starts a redis-server of its own (``tests/redis_server.py``) and ``--workers`` RQ
face workers as docs/deployment.md runs them (``python -m proctoring.worker --redis URL
--nice 10``, with the web tier's ``EXAMSVC_*`` environment), waits until they are idle
(models loaded), then queues ``--jobs`` snapshot analyses at once and waits for every
decision. The snapshots are real camera frames (``bench/load.py``'s ``camera_roll``: 640×480
JPEGs of about 40 KB made from the photos in ``../shared/faces``), each candidate enrolled
with the encoding of its own photo, one snapshot per candidate (none superseded).

``--hook record`` (the deployed shape): a database of its own (a fresh SQLite file, or a
fresh database on ``--database-url``'s PostgreSQL server) with one attempt in progress per
job, in invigilation sessions of 40; each snapshot is stored (``operations.store_snapshot``)
and handed on by ``camera.analysis.dispatch`` as the web process does (``EXAMSVC_REDIS_URL``
set: the claim, ``faces.enqueue``, the ``examsvc.face_worker:record_result`` hook), so the
worker records each decision in the database and pushes the candidate's card. ``--hook
none``: the jobs queued with ``proctoring.distributed.enqueue`` and no hook (RQ and the
engine only).

Measured over the window from the first job queued to the last decision: jobs per second,
the workers' CPU (psutil, children included) in % of a core, per job the time in the
worker (RQ's ``started_at`` … ``ended_at``), the gap between one job's end and the next
one's start in the same worker, queue-to-end latency, Redis commands per job (``INFO
commandstats``). Then (unless ``--no-pool``) the same snapshots through the in-process
``FacePool`` with as many processes at the same niceness, without recording (the pool's
caller records). ``--profile FILE`` runs the first worker under cProfile (written when it
stops); ``--strace FILE`` under ``strace -c -f``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Worker  # noqa: E402
from rq.job import Job  # noqa: E402

from bench.bench_save import database  # noqa: E402  (a fresh SQLite or PostgreSQL database)
from proctoring.pool import percentile  # noqa: E402

BENCH_DB = "examsvc_bench_rq"
PER_SESSION = 40


def frames(photos: int) -> list[tuple[bytes, bytes]]:
    """(snapshot JPEG, the person's enrolled encoding): ``bench/load.py``'s camera roll."""
    from bench.load import SNAPSHOT_FRAMES, camera_roll, registration_photos

    found = registration_photos(limit=photos)
    roll = camera_roll(found)
    out = []
    for k in range(SNAPSHOT_FRAMES):
        for path, encoding, _entry in found:
            out.append((roll[str(path)]["snapshots"][k], encoding))
    return out


def build(n: int, encodings: list[bytes], now: datetime) -> list[tuple[int, int]]:
    """N attempts in progress, each with a passed entry check that enrolled its person, in
    sessions of 40 watched by one invigilator (committed): (attempt id, physician id)."""
    from examsvc.camera.models import EntryCheck, EntryOutcome
    from examsvc.enums import Role
    from examsvc.extensions import db
    from examsvc.invigilation import operations as ops
    from tests.factories import create_cycle, create_physician, create_user
    from tests.factories_exam import create_attempt, create_bank, create_paper, create_window

    cycle = create_cycle()
    create_bank(now=now)
    paper = create_paper(cycle.id, now)
    window = create_window(paper, now - timedelta(hours=1), hours=48)
    proctor = create_user(Role.INVIGILATOR)
    out = []
    physicians = []
    for i in range(n):
        physician = create_physician(cycle)
        attempt = create_attempt(physician, paper, window, "in_progress", started=now)
        db.session.add(
            EntryCheck(
                physician_id=physician.id,
                paper_id=paper.id,
                attempt_id=attempt.id,
                checked_at=now,
                outcome=EntryOutcome.PASSED,
                distance=0.3,
                decision={},
                frames=[],
                enrolled=encodings[i % len(encodings)],
            )
        )
        physicians.append(physician.registration_id)
        out.append((attempt.id, physician.id))
    for k in range(0, n, PER_SESSION):
        session = ops.create_session(window, f"压测考场{k // PER_SESSION + 1}", None)
        ops.assign_invigilators(session, [proctor.id])
        ops.assign_candidates(session, physicians[k : k + PER_SESSION])
    db.session.commit()
    return out


class Web:
    """The web process's side of ``--hook record``: an app on the bench's database whose
    snapshots are stored and handed on as ``camera.events`` does after its unit."""

    def __init__(self, env: dict[str, str], n: int, encodings: list[bytes]) -> None:
        from flask_migrate import upgrade

        from examsvc import create_app

        self.now = datetime.now(UTC)
        self.app = create_app(
            {"TESTING": True, "ASYNC_MODE": "threading", "ROSTER_PULL_INTERVAL": 0}
        )
        with self.app.app_context():
            upgrade()
            self.attempts = build(n, encodings, self.now)

    def queue(self, k: int, image: bytes) -> None:
        """The k-th snapshot: of candidate k mod N, a mean interval after its previous one."""
        from examsvc import uow
        from examsvc.camera import analysis, operations
        from examsvc.extensions import db

        attempt_id, physician_id = self.attempts[k % len(self.attempts)]
        mean = float(self.app.config["SNAPSHOT_MEAN_SECONDS"])
        now = self.now + timedelta(seconds=mean * (k // len(self.attempts)))
        with self.app.app_context():
            try:
                stored = uow.run(
                    lambda: operations.store_snapshot(
                        attempt_id,
                        physician_id,
                        image,
                        taken_at=None,
                        now=now,
                        data_dir=Path(self.app.config["DATA_DIR"]),
                        mean_seconds=mean,
                    )
                )
            finally:
                db.session.remove()
            analysis.dispatch(self.app, stored)

    def decided(self) -> dict[str, int]:
        import sqlalchemy as sa

        from examsvc.camera.models import Snapshot
        from examsvc.extensions import db

        with self.app.app_context():
            try:
                rows = db.session.execute(
                    sa.select(Snapshot.status, sa.func.count()).group_by(Snapshot.status)
                ).all()
            finally:
                db.session.remove()
        return {str(status): count for status, count in rows}


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes and their children, each counted once."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        process = psutil.Process(pid)
        for p in [process, *process.children(recursive=True)]:
            seen[p.pid] = p
    total = 0.0
    for p in seen.values():
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def schedstat(pids: list[int]) -> tuple[float, float]:
    """Seconds on a CPU and seconds waiting on a run queue (runnable, another task on the
    core) of these processes' threads, children included (``/proc/<pid>/task/*/schedstat``).
    The rest of the wall time, each thread asleep: waiting for Redis, the database, a lock."""
    seen: set[int] = set()
    for pid in pids:
        process = psutil.Process(pid)
        seen.update(p.pid for p in [process, *process.children(recursive=True)])
    running = waiting = 0
    for pid in seen:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                on_cpu, on_queue, _slices = task.read_text().split()
            except (OSError, ValueError):
                continue
            running += int(on_cpu)
            waiting += int(on_queue)
    return running / 1e9, waiting / 1e9


def start_workers(
    args: argparse.Namespace, env: dict[str, str], root: Path
) -> list[subprocess.Popen[bytes]]:
    workers = []
    for k in range(args.workers):
        command = [sys.executable, "-m", "proctoring.worker", "--redis", env["EXAMSVC_REDIS_URL"]]
        command += ["--nice", str(args.nice)]
        if k == 0 and args.profile:
            command = [sys.executable, "-m", "cProfile", "-o", args.profile, *command[1:]]
        if k == 0 and args.strace:
            command = ["strace", "-c", "-f", "-o", args.strace, *command]
        log = (root / f"worker{k + 1}.log").open("wb")
        workers.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    return workers


def wait_idle(redis: Redis, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = Worker.all(connection=redis)
        if len(workers) >= count and all(w.get_state() == "idle" for w in workers):
            return
        time.sleep(0.2)  # polling other processes' start, not waiting for time to pass
    raise SystemExit("the RQ workers did not start")


def run_rq(args: argparse.Namespace, snaps: list[tuple[bytes, bytes]], root: Path) -> dict:
    from proctoring import distributed
    from tests.redis_server import OwnRedis

    own = OwnRedis(root)
    own.start()
    redis = Redis.from_url(own.url)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "EXAMSVC_DEMO_MODE": "true",
        "EXAMSVC_INSTANCE_PATH": str(root),
        "EXAMSVC_DATA_DIR": str(root / "data"),
        "EXAMSVC_DATABASE_URL": database(args.database_url, root, BENCH_DB),
        "EXAMSVC_REDIS_URL": own.url,
        "EXAMSVC_ROSTER_PULL_INTERVAL": "0",
        "EXAMSVC_LIVENESS": "false",
        "EXAMSVC_CARD_PUSH_SECONDS": str(args.card_push),
    }
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("EXAMSVC_")})
    workers: list[subprocess.Popen[bytes]] = []
    try:
        candidates = args.candidates or args.jobs
        web = Web(env, candidates, [e for _, e in snaps]) if args.hook == "record" else None
        workers = start_workers(args, env, root)
        wait_idle(redis, args.workers)
        pids = [w.pid for w in workers]
        redis.config_resetstat()
        sched0 = schedstat(pids)
        cpu0, t0 = cpu_seconds(pids), time.perf_counter()
        queued_at = time.time()
        enqueue_s = []
        job_ids: list[str] = []
        for k in range(args.jobs):
            image, encoding = snaps[k % len(snaps)]
            e0 = time.perf_counter()
            if web is not None:
                web.queue(k, image)
            else:
                job = distributed.enqueue(
                    redis,
                    "snapshot",
                    {"image": image, "enrolled": [encoding]},
                    candidate=f"c{k % candidates}",
                )
                job_ids.append(job.id)
            enqueue_s.append(time.perf_counter() - e0)
        enqueued_in = time.perf_counter() - t0
        deadline = time.monotonic() + args.jobs * 5 + 60
        while time.monotonic() < deadline:
            if web is not None:
                statuses = web.decided()
                if statuses.get("pending", 0) == 0 and sum(statuses.values()) >= args.jobs:
                    break
            elif redis.llen(distributed._latency_key("")) >= args.jobs:
                break  # each job done pushed its latency
            time.sleep(0.05)  # polling the workers' progress
        else:
            raise SystemExit("the jobs were not all done in time")
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(pids) - cpu0
        sched1 = schedstat(pids)
        stats = redis.info("commandstats")
        # The jobs' own timestamps: time in the worker, and the gaps between jobs.
        if not job_ids:
            keys = [k.decode() for k in redis.scan_iter("rq:job:*", count=1000)]
            job_ids = [k.split(":", 2)[2] for k in keys if k.count(":") == 2]
        jobs = [j for j in Job.fetch_many(job_ids, connection=redis) if j is not None]
        statuses_rq: dict[str, int] = {}
        for j in jobs:
            statuses_rq[str(j.get_status())] = statuses_rq.get(str(j.get_status()), 0) + 1
        runs = sorted(
            (j.worker_name or "", j.started_at, j.ended_at)
            for j in jobs
            if j.started_at and j.ended_at
        )
        inside = [(e - s).total_seconds() for _, s, e in runs]
        gaps = [(b[1] - a[2]).total_seconds() for a, b in pairwise(runs) if a[0] == b[0]]
        latency = [
            (e.replace(tzinfo=UTC).timestamp() if e.tzinfo is None else e.timestamp()) - queued_at
            for _, _, e in runs
        ]
        decided = web.decided() if web is not None else statuses_rq
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
        os.environ.clear()
        os.environ.update(saved)
        own.stop()
    commands = {
        name.removeprefix("cmdstat_"): value["calls"]
        for name, value in stats.items()
        if name.startswith("cmdstat_")
    }
    return {
        "elapsed": elapsed,
        "enqueued_in": enqueued_in,
        "enqueue_ms": 1000 * sum(enqueue_s) / len(enqueue_s),
        "cpu": cpu,
        "running": sched1[0] - sched0[0],
        "runnable": sched1[1] - sched0[1],
        "inside": inside,
        "gaps": gaps,
        "latency": latency,
        "commands": commands,
        "decided": decided,
    }


def run_pool(args: argparse.Namespace, snaps: list[tuple[bytes, bytes]]) -> dict:
    from proctoring.pool import Dropped, FacePool

    pool = FacePool(args.workers, nice=args.nice).start()
    try:
        pool.run("count", {"image": snaps[0][0]}, timeout=120)  # warm
        pids = [p.pid for p in psutil.Process().children(recursive=True)]
        cpu0, t0 = cpu_seconds(pids), time.perf_counter()
        futures = []
        for k in range(args.jobs):
            image, encoding = snaps[k % len(snaps)]
            submitted = time.perf_counter()
            future = pool.submit(
                "snapshot",
                {"image": image, "enrolled": [encoding]},
                candidate=f"c{k % (args.candidates or args.jobs)}",
            )
            futures.append((submitted, future))
        latency = []
        flags: dict[str, int] = {}
        for submitted, future in futures:
            try:
                result = future.result(timeout=600)
            except Dropped:  # superseded by the candidate's newer snapshot
                flags["dropped"] = flags.get("dropped", 0) + 1
                continue
            latency.append(time.perf_counter() - submitted)
            for flag in result.get("flags", []) or ["none"]:
                flags[flag] = flags.get(flag, 0) + 1
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(pids) - cpu0
    finally:
        pool.stop()
    return {"elapsed": elapsed, "cpu": cpu, "latency": latency, "flags": flags}


def ms(values: list[float], q: float) -> str:
    return f"{percentile([v * 1000 for v in values], q):.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1, help="RQ workers (and pool processes)")
    parser.add_argument("--hook", choices=["record", "none"], default="record")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (else SQLite)")
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument(
        "--card-push",
        type=float,
        default=1.0,
        help="EXAMSVC_CARD_PUSH_SECONDS of the workers (0: a card read and push in every job,"
        " as before 2026-11-26)",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        default=0,
        help="the jobs' candidates, round robin (0: one each; fewer: a candidate's newer"
        " snapshot supersedes its older ones still queued, as when the queue is behind)",
    )
    parser.add_argument(
        "--hogs",
        type=int,
        default=0,
        help="busy processes at nice 0 beside the workers (the web processes of a full machine)",
    )
    parser.add_argument("--no-pool", action="store_true")
    parser.add_argument("--profile", default=None, help="cProfile stats of the first RQ worker")
    parser.add_argument("--strace", default=None, help="strace -c -f of the first RQ worker")
    args = parser.parse_args()

    snaps = frames(args.photos)
    print(
        f"{len(snaps)} camera frames, {sum(len(s) for s, _ in snaps) / len(snaps) / 1024:.0f} KB"
        f" each on average; {args.jobs} jobs, {args.workers} worker(s) at nice {args.nice},"
        f" hook {args.hook}, {'PostgreSQL' if args.database_url else 'SQLite'},"
        f" {args.candidates or args.jobs} candidates, {args.hogs} busy processes beside,"
        f" cards pushed every {args.card_push} s"
    )
    root = Path(tempfile.mkdtemp(prefix="bench-rq-faces-"))
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    try:
        rq = run_rq(args, snaps, root)
        pool = None if args.no_pool else run_pool(args, snaps)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    per_core = 100 * rq["cpu"] / rq["elapsed"]
    print(
        f"RQ:   {args.jobs / rq['elapsed']:.1f} jobs/s ({rq['elapsed']:.1f} s;"
        f" queued in {rq['enqueued_in']:.1f} s, {rq['enqueue_ms']:.1f} ms each),"
        f" workers' CPU {per_core:.0f} % of a core ({per_core / args.workers:.0f} % each),"
        f" {1000 * rq['cpu'] / args.jobs:.0f} ms CPU per job"
    )
    print(
        f"      in the worker per job p50 {ms(rq['inside'], 0.5)} / p95 {ms(rq['inside'], 0.95)}"
        f" ms; gap between jobs p50 {ms(rq['gaps'], 0.5)} / p95 {ms(rq['gaps'], 0.95)} ms;"
        f" queued→done p50 {ms(rq['latency'], 0.5)} / p99 {ms(rq['latency'], 0.99)} ms"
    )
    asleep = rq["elapsed"] * args.workers - rq["running"] - rq["runnable"]
    print(
        f"      the workers' wall time: on a CPU {rq['running']:.1f} s, waiting for a CPU"
        f" (runnable) {rq['runnable']:.1f} s, asleep (Redis, database, idle) {asleep:.1f} s"
        f" of {rq['elapsed'] * args.workers:.1f} s (all threads: ≤ 0 means never asleep)"
    )
    print(f"      decided: {rq['decided']}")
    top = sorted(rq["commands"].items(), key=lambda kv: -kv[1])
    print(
        f"      Redis commands per job: {sum(rq['commands'].values()) / args.jobs:.1f} ("
        + ", ".join(f"{name} {calls / args.jobs:.1f}" for name, calls in top[:12])
        + ")"
    )
    print(f"      logs: {root}")
    if pool is not None:
        per_core = 100 * pool["cpu"] / pool["elapsed"]
        print(
            f"pool: {args.jobs / pool['elapsed']:.1f} jobs/s ({pool['elapsed']:.1f} s), processes'"
            f" CPU {per_core:.0f} % of a core, {1000 * pool['cpu'] / args.jobs:.0f} ms CPU per job;"
            f" submitted→done p50 {ms(pool['latency'], 0.5)} / p99 {ms(pool['latency'], 0.99)} ms;"
            f" flags {pool['flags']}"
        )


if __name__ == "__main__":
    main()
