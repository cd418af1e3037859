"""A province-sized roster pull: N physicians with photos from a fake registry over HTTP.

    .venv/bin/python bench/bench_roster.py [--n 3000] [--changes 1000] [--database-url URL]

The registry is tests/roster/fake_registry.py's FakeRegistry in its own process, made
streaming: items are generated from their number on each page request and photos from a
small set of variants, so N = 100,000 holds nothing per physician in memory. Photos are
the ../shared/faces images re-encoded with variations (long side 200-1,200 px, JPEG
quality 55-95, a slight crop, brightness ±15 %), cached on disk once; each physician's
photo is unique bytes (a JPEG comment with the registration id). Then:

1. a full pull into a fresh database (a SQLite file, or ``--database-url``, e.g. the
   PostgreSQL database ``examsvc_bench_roster``, dropped and migrated afresh), the same
   way ``examsvc roster pull`` runs it (face pool on every core, 8 downloads at a time);
2. an incremental pull after ``--changes`` items changed (a quarter of them with a new
   photo).

Prints wall time, throughput and CPU: the pull process (storing) and the face workers
(per photo checked).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FACES = Path(os.environ.get("EXAMSVC_FACES_DIR", REPO.parent / "shared" / "faces"))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "examsvc-bench-roster"
BASE = datetime(2026, 3, 1, tzinfo=UTC)
PHOTO_CHANGE_EVERY = 4  # one changed item in four has a new photo


# --- photos -------------------------------------------------------------------------------


def variants(count: int, seed: int = 14) -> list[Path]:
    """``count`` re-encoded photos, made once and kept in CACHE."""
    folder = CACHE / f"v1-{count}-{seed}"
    done = folder / "done"
    if done.exists():
        return sorted(folder.glob("*.jpg"))
    from PIL import Image, ImageEnhance, ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(
        p
        for p in [*FACES.glob("face_recognition/*"), *FACES.glob("deepface/*.jpg")]
        if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not sources:
        sys.exit(f"no face photos at {FACES}: set EXAMSVC_FACES_DIR")
    rng = random.Random(seed)
    for i in range(count):
        source = sources[i % len(sources)]
        image = ImageOps.exif_transpose(Image.open(source)).convert("RGB")
        w, h = image.size
        crop = [rng.uniform(0, 0.06) for _ in range(4)]
        image = image.crop(
            (
                round(w * crop[0]),
                round(h * crop[1]),
                round(w * (1 - crop[2])),
                round(h * (1 - crop[3])),
            )
        )
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))
        long_side = rng.choice([200, 320, 480, 640, 800, 1024, 1200])
        scale = long_side / max(image.size)
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
            Image.Resampling.LANCZOS,
        )
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=rng.randint(55, 95))
        (folder / f"{i:04d}-{source.stem}.jpg").write_bytes(buffer.getvalue())
    done.write_text("ok")
    return sorted(folder.glob("*.jpg"))


def unique(jpeg: bytes, tag: str) -> bytes:
    """The same picture, different bytes: a JPEG comment (COM) segment after SOI."""
    text = tag.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


# --- the streaming registry (its own process) ---------------------------------------------


def id_number(n: int) -> str:
    from examsvc.accounts.ids import check_digit

    birth = (date(1960, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
    body = f"430102{birth}{n % 1000:03d}"
    return body + check_digit(body)


def serve(args: argparse.Namespace) -> None:
    from werkzeug.wrappers import Request, Response

    from tests.roster.fake_registry import CYCLE, TOKEN, FakeRegistry, item

    photos = [p.read_bytes() for p in variants(args.variants)]
    n_total = args.n
    # n -> (version, photo variant) of the changed items; others are (0, n % variants)
    changed: dict[int, tuple[int, int]] = {}

    def state(n: int) -> tuple[int, int]:
        return changed.get(n, (0, n % len(photos)))

    def updated_at(n: int) -> datetime:
        version = state(n)[0]
        return BASE + timedelta(seconds=n) if version == 0 else BASE + timedelta(days=30 + version)

    def photo_bytes(n: int) -> bytes:
        variant = state(n)[1]
        return unique(photos[variant], f"HN2026-{n:07d}/{variant}")

    def roster_item(n: int) -> dict[str, Any]:
        data = item(
            n,
            id_number=id_number(n),
            updated_at=updated_at(n).isoformat(),
            photo=photo_bytes(n),
            gender="MF"[n % 2],
        )
        if state(n)[0]:
            data["department"] = f"内科{state(n)[0]}"
        return data

    class Streaming(FakeRegistry):
        def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return Response("{}", 401)(environ, start_response)
            if request.path == "/bench/change":  # POST: change items, from the bench
                for n, photo in json.loads(request.get_data()):
                    version = state(n)[0] + 1
                    variant = (state(n)[1] + 1) % len(photos) if photo else state(n)[1]
                    changed[n] = (version, variant)
                return Response("{}")(environ, start_response)
            if request.path.startswith("/api/v1/photos/"):
                n = int(request.path.rsplit("-", 1)[1].split(".")[0])
                return Response(photo_bytes(n), mimetype="image/jpeg")(environ, start_response)
            return self._roster(request)(environ, start_response)

        def _roster(self, request: Request) -> Response:
            limit = min(int(request.args.get("limit", 100)), 1000)
            cursor = request.args.get("cursor")
            offset = json.loads(base64.urlsafe_b64decode(cursor))["o"] if cursor else 0
            since = request.args.get("updated_since")
            if since:  # the changed items and the base ones at or after ``since``
                at = datetime.fromisoformat(since)
                first = max(1, int((at - BASE).total_seconds()))
                numbers = sorted(
                    {n for n in changed if updated_at(n) >= at}
                    | {n for n in range(first, n_total + 1) if n not in changed},
                    key=lambda n: (updated_at(n), n),
                )
                numbers = [n for n in numbers if updated_at(n) >= at]
                chunk = numbers[offset : offset + limit]
                more = offset + limit < len(numbers)
            else:
                chunk = list(range(offset + 1, min(offset + limit, n_total) + 1))
                more = offset + limit < n_total
            next_cursor = (
                base64.urlsafe_b64encode(json.dumps({"o": offset + limit}).encode()).decode()
                if more
                else None
            )
            body = {
                "cycle": CYCLE,
                "items": [roster_item(n) for n in chunk],
                "next_cursor": next_cursor,
            }
            return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    registry = Streaming()
    print(registry.url, flush=True)
    registry.server.serve_forever()


# --- the bench ----------------------------------------------------------------------------


def cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def workers_cpu(me: Any, exclude: set[int]) -> float:
    return sum(
        cpu_seconds(child)
        for child in me.children(recursive=True)
        if child.pid not in exclude and child.is_running()
    )


def run_pull(client: Any, data_dir: str, pool: Any, label: str, registry_pid: int) -> Any:
    import psutil

    from examsvc.clock import now
    from examsvc.roster import operations
    from examsvc.roster.cli import PHOTO_DOWNLOADS

    me = psutil.Process()
    exclude = {registry_pid}
    registry = psutil.Process(registry_pid)
    main0, workers0, registry0 = cpu_seconds(me), workers_cpu(me, exclude), cpu_seconds(registry)
    started = time.perf_counter()
    report = operations.pull(
        client, "HN-2026", now=now, data_dir=data_dir, checker=pool, downloads=PHOTO_DOWNLOADS
    )
    wall = time.perf_counter() - started
    main = cpu_seconds(me) - main0
    workers = workers_cpu(me, exclude) - workers0
    served = cpu_seconds(registry) - registry0
    items = report.created + report.updated + report.unchanged
    checked = report.photos_downloaded
    print(f"\n{label}: {report.summary()}")
    print(
        f"  wall {wall:.1f} s; {items / wall:.1f} physicians/s; {checked / wall:.1f} photos/s; "
        f"{report.pages} pages"
    )
    print(
        f"  CPU: face workers {workers:.1f} s ({1000 * workers / max(1, checked):.0f} ms per photo "
        f"checked), pull process {main:.1f} s ({1000 * main / max(1, items):.1f} ms per "
        f"physician), fake registry {served:.1f} s"
    )
    return {"wall": wall, "items": items, "photos": checked, "workers": workers, "main": main}


def fresh_database(url: str | None, tmp: str) -> str:
    if not url:
        return f"sqlite:///{tmp}/bench.db"
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000, help="physicians in the registry")
    parser.add_argument("--changes", type=int, default=1000, help="items changed, then pulled")
    parser.add_argument("--variants", type=int, default=240, help="distinct photo variants")
    parser.add_argument("--database-url", default=os.environ.get("EXAMSVC_DATABASE_URL"))
    parser.add_argument("--workers", type=int, default=0, help="face workers (0: one per core)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    import requests

    from examsvc import create_app
    from examsvc.registry import RegistryClient
    from examsvc.roster.checks import PhotoPool
    from tests.roster.fake_registry import TOKEN

    started = time.perf_counter()
    shots = variants(args.variants)
    sizes = sorted(p.stat().st_size for p in shots)
    print(
        f"{len(shots)} photo variants in {CACHE} ({time.perf_counter() - started:.1f} s); "
        f"{sizes[0] // 1024}-{sizes[-1] // 1024} KB, median {sizes[len(sizes) // 2] // 1024} KB"
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}")
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--n", str(args.n), "--variants", str(args.variants)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            db_url = fresh_database(args.database_url, tmp)
            app = create_app({"TESTING": True, "DATABASE_URL": db_url, "DATA_DIR": tmp})
            with app.app_context(), PhotoPool(args.workers) as pool:
                from flask_migrate import upgrade

                upgrade()
                print(f"database: {db_url.split('@')[-1]}; face workers: {pool.workers}")
                client = RegistryClient(url, TOKEN, timeout=60)
                full = run_pull(client, tmp, pool, f"full pull of {args.n}", server.pid)
                rng = random.Random(args.n)
                picked = rng.sample(range(1, args.n + 1), min(args.changes, args.n))
                changes = [[n, i % PHOTO_CHANGE_EVERY == 0] for i, n in enumerate(picked)]
                requests.post(
                    url + "bench/change",
                    data=json.dumps(changes),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=60,
                ).raise_for_status()
                incremental = run_pull(
                    client, tmp, pool, f"incremental pull of {len(changes)} changes", server.pid
                )
        per_photo = full["workers"] / max(1, full["photos"])
        scale = 100_000 / args.n
        print(
            f"\nlinear extrapolation to 100,000 from {args.n}: wall {full['wall'] * scale / 60:.1f} "
            f"min; face-worker CPU {per_photo * 100_000 / 3600:.1f} core-hours "
            f"= {per_photo * 100_000 / (os.cpu_count() or 1) / 60:.1f} min on "
            f"{os.cpu_count()} cores if checks alone bound it; incremental "
            f"{incremental['wall']:.1f} s"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
