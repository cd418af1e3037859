"""Real photos from the shared folder, and frames made from them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from proctoring import distributed, frames
from proctoring.config import FaceConfig

BIG = FaceConfig(max_bytes=50 * 1024 * 1024)


def jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def photo(faces_dir_session: Path):
    """photo(name) -> the decoded RGB array of a shared photo (any size)."""

    def load(name: str) -> np.ndarray:
        return frames.decode((faces_dir_session / name).read_bytes(), BIG)

    return load


@pytest.fixture(scope="session")
def photo_bytes(faces_dir_session: Path):
    """photo_bytes(name) -> JPEG bytes of a shared photo at working size (< 2 MB)."""

    def load(name: str) -> bytes:
        return jpeg(frames.decode((faces_dir_session / name).read_bytes(), BIG))

    return load


@pytest.fixture(scope="session")
def faces_dir_session() -> Path:
    import os

    from tests.conftest import REPO

    path = Path(os.environ.get("EXAMSVC_FACES_DIR", REPO.parent / "shared" / "faces"))
    if not (path / "pairs.csv").exists():
        pytest.fail(f"face photos not found at {path}: set EXAMSVC_FACES_DIR")
    return path


def landscape(seed: int = 1) -> np.ndarray:
    """A picture with no face in it."""
    rng = np.random.default_rng(seed)
    sky = np.linspace(90, 200, 480, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(sky, (480, 640, 3)).copy()
    image[300:] = [60, 110, 50]
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def run_worker(
    redis, namespace: str, job_ids: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> list[dict]:
    """A real RQ worker process over the namespace's queues until they are empty; the
    jobs' results, in order."""
    from tests.conftest import REDIS_URL

    environment = {**os.environ, "EXAMSVC_TEST_REDIS_URL": REDIS_URL, **(env or {})}
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "proctoring.worker", "--burst", "--namespace", namespace]
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [*command, "--redis", REDIS_URL], env=environment, stdout=out, stderr=subprocess.STDOUT
        ) as worker,
    ):
        deadline = time.monotonic() + 120
        try:
            results = [_result(redis, job_id, deadline) for job_id in job_ids]
        except AssertionError:
            worker.kill()
            raise AssertionError(log.read_text()) from None
        assert worker.wait(timeout=120) == 0, log.read_text()
    return results


def _result(redis, job_id: str, deadline: float) -> dict:
    while time.monotonic() < deadline:
        result = distributed.result(redis, job_id)
        if result is not None:
            return result
        time.sleep(0.1)  # polling another process for its answer, not waiting for time to pass
    raise AssertionError(f"face job {job_id} not done in time")
