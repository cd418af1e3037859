from __future__ import annotations

from pathlib import Path

import pytest

from tests.proctoring.conftest import jpeg, landscape
from tests.roster.fake_registry import FakeRegistry


@pytest.fixture
def registry():
    fake = FakeRegistry().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def faces_photos() -> dict[str, bytes]:
    """Registration-photo-sized JPEGs from the shared faces: one face, two, none."""
    import os

    from proctoring import frames
    from proctoring.config import FaceConfig
    from tests.conftest import REPO

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
