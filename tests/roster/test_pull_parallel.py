"""The pull with photo checks on every core (the face pool) and concurrent downloads."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from examsvc.enums import PhotoStatus
from examsvc.extensions import db
from examsvc.registry import RegistryClient, RegistryError, RetryPolicy
from examsvc.roster import operations
from examsvc.roster.checks import PhotoPool
from examsvc.roster.models import Cycle, Physician
from tests.factories import resident_id
from tests.roster.fake_registry import TOKEN, item


@pytest.fixture(scope="module")
def photo_pool():
    with PhotoPool(2) as pool:
        yield pool


@pytest.fixture
def pull(app, clock, registry, photo_pool):
    def run(**kw):
        client = RegistryClient(
            registry.url, TOKEN, policy=RetryPolicy(attempts=3), sleep=lambda _s: None
        )
        return operations.pull(
            client,
            "HN-2026",
            now=clock.now,
            data_dir=app.config["DATA_DIR"],
            checker=photo_pool,
            page_size=kw.pop("page_size", 3),
            downloads=4,
        )

    return run


def physicians() -> list[Physician]:
    return list(db.session.scalars(sa.select(Physician).order_by(Physician.registration_id)))


def test_parallel_checks_store_what_the_serial_checker_decides(registry, pull, faces_photos):
    names = ["obama", "biden", "two", "none", "broken", "obama", "biden"]
    for n, name in enumerate(names, start=1):
        photo = faces_photos[name]
        # n=7 announces another photo than it serves: refused before any check
        data = item(
            n, id_number=resident_id(n), updated_at="2026-04-01T10:00:00+08:00", photo=photo
        )
        if n == 7:
            data["photo"]["sha256"] = "0" * 64
        registry.add(data, photo)
    report = pull()
    assert report.pages == 3 and report.created == 7 and report.photos_downloaded == 7
    stored = physicians()
    for physician, name in zip(stored[:6], names, strict=False):
        ok, code, text, encoding = operations.engine_photo_checker(faces_photos[name])
        assert physician.photo_status == (PhotoStatus.OK if ok else PhotoStatus.FAILED)
        assert (physician.photo_problem, physician.photo_problem_text) == (
            (None, None) if ok else (code, text)
        )
        assert physician.face_encoding == encoding  # the same bytes as the serial check
    assert [p.photo_problem for p in stored] == [
        None,
        None,
        "multiple_faces",
        "no_face",
        "truncated",
        None,
        "sha256_mismatch",
    ]
    assert stored[0].face_encoding and len(stored[0].face_encoding) == 1024
    assert registry.photo_requests() == 7


def test_a_page_whose_photos_fail_to_download_is_not_stored_and_the_pull_resumes(
    registry, pull, faces_photos
):
    for n in range(1, 6):
        photo = faces_photos["obama" if n % 2 else "biden"]
        registry.add(
            item(
                n, id_number=resident_id(n), updated_at=f"2026-04-0{n}T10:00:00+08:00", photo=photo
            ),
            photo,
        )
    registry.fail_photo["/api/v1/photos/HN2026-0000005.jpg"] = [500, 503, 500]  # every retry
    with pytest.raises(RegistryError) as err:
        pull(page_size=2)
    assert err.value.retriable and "photo" in str(err.value)
    assert [p.registration_id for p in physicians()] == [f"HN2026-{n:07d}" for n in range(1, 5)]
    cycle = db.session.scalars(sa.select(Cycle)).one()
    assert cycle.resume_cursor is not None and cycle.last_pull_ok is False
    registry.log.clear()
    report = pull(page_size=2)  # the registry answers again
    assert report.created == 1 and "cursor=" in registry.log[0]
    assert [p.photo_status for p in physicians()] == [PhotoStatus.OK] * 5
    assert db.session.scalars(sa.select(Cycle)).one().last_pull_ok


def test_a_missing_photo_fails_alone(registry, pull, faces_photos):
    """A photo the registry does not have (404) is that physician's problem, not the page's."""
    for n in (1, 2):
        registry.add(
            item(
                n,
                id_number=resident_id(n),
                updated_at="2026-04-01T10:00:00+08:00",
                photo=faces_photos["obama"],
            ),
            faces_photos["obama"] if n == 1 else None,
        )
    report = pull()
    assert report.photos_failed == 1
    first, second = physicians()
    assert first.photo_status == PhotoStatus.OK
    assert (second.photo_status, second.photo_problem) == (PhotoStatus.FAILED, "download_failed")


def test_a_failing_next_page_read_ahead_keeps_this_page_and_resumes(registry, pull, faces_photos):
    """The next page is read while this one's photos are checked: its failure stops the pull
    only after this page is stored."""
    for n in range(1, 5):
        registry.add(
            item(
                n,
                id_number=resident_id(n),
                updated_at=f"2026-04-0{n}T10:00:00+08:00",
                photo=faces_photos["obama"],
            ),
            faces_photos["obama"],
        )
    registry.fail_page[1] = [500, 500, 500]
    with pytest.raises(RegistryError):
        pull(page_size=2)
    assert [p.photo_status for p in physicians()] == [PhotoStatus.OK] * 2
    report = pull(page_size=2)
    assert report.created == 2 and [p.photo_status for p in physicians()] == [PhotoStatus.OK] * 4
