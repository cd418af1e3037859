"""Pulling the roster from a registration system speaking the contract, over real HTTP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from examsvc.accounts.ids import to_15
from examsvc.accounts.models import User
from examsvc.enums import PhotoStatus, RegistrationStatus, Role
from examsvc.extensions import db
from examsvc.registry import RegistryClient, RegistryError, RetryPolicy
from examsvc.roster import operations
from examsvc.roster.models import Cycle, Physician, RosterProblem
from tests.factories import resident_id
from tests.roster.fake_registry import TOKEN, item


@pytest.fixture
def pull(app, clock, registry):
    sleeps: list[float] = []

    def run(**kw):
        client = RegistryClient(
            registry.url,
            kw.pop("token", TOKEN),
            policy=RetryPolicy(attempts=3),
            sleep=sleeps.append,
        )
        return operations.pull(
            client,
            "HN-2026",
            now=clock.now,
            data_dir=app.config["DATA_DIR"],
            checker=operations.engine_photo_checker,
            page_size=kw.pop("page_size", 2),
        )

    run.sleeps = sleeps  # type: ignore[attr-defined]
    return run


def physicians() -> list[Physician]:
    return list(db.session.scalars(sa.select(Physician).order_by(Physician.registration_id)))


def test_paged_pull_stores_everyone_with_photos_and_encodings(registry, pull, faces_photos):
    for n, photo, extra in [
        (1, "obama", {}),
        (2, "biden", {"procedure": "general"}),
        (3, "two", {}),
        (4, "none", {}),
        (5, "broken", {}),
    ]:
        registry.add(
            item(
                n,
                id_number=resident_id(n),
                updated_at=f"2026-04-0{n}T10:00:00+08:00",
                photo=faces_photos[photo],
                **extra,
            ),
            faces_photos[photo],
        )
    report = pull()
    assert report.pages == 3 and report.created == 5
    stored = physicians()
    assert [p.registration_id for p in stored] == [f"HN2026-{n:07d}" for n in range(1, 6)]
    ok, biden, two, none, broken = stored
    assert ok.photo_status == PhotoStatus.OK and len(ok.face_encoding or b"") == 1024
    assert biden.procedure.value == "general" and biden.photo_status == PhotoStatus.OK
    assert (two.photo_status, two.photo_problem) == (PhotoStatus.FAILED, "multiple_faces")
    assert (none.photo_status, none.photo_problem) == (PhotoStatus.FAILED, "no_face")
    assert (broken.photo_status, broken.photo_problem) == (PhotoStatus.FAILED, "truncated")
    assert two.face_encoding is None and two.photo_problem_text
    users = db.session.scalars(sa.select(User).where(User.role == Role.PHYSICIAN)).all()
    assert len(users) == 5 and all(u.must_change_password for u in users)
    cycle = db.session.scalars(sa.select(Cycle)).one()
    assert cycle.synced_until is not None and cycle.resume_cursor is None and cycle.last_pull_ok


def test_incremental_pull_skips_unchanged_photos_and_marks_withdrawn(registry, pull, faces_photos):
    registry.add(
        item(
            1,
            id_number=resident_id(1),
            updated_at="2026-04-01T10:00:00+08:00",
            photo=faces_photos["obama"],
        ),
        faces_photos["obama"],
    )
    registry.add(
        item(
            2,
            id_number=resident_id(2),
            updated_at="2026-04-02T10:00:00+08:00",
            photo=faces_photos["biden"],
        ),
        faces_photos["biden"],
    )
    pull()
    assert registry.photo_requests() == 2
    # Physician 2 withdraws (调离); nothing else changes.
    registry.add(
        item(
            2,
            id_number=resident_id(2),
            updated_at="2026-04-09T10:00:00+08:00",
            photo=faces_photos["biden"],
            status="withdrawn",
        )
    )
    registry.log.clear()
    report = pull()
    assert report.withdrawn == 1 and report.created == 0
    assert registry.photo_requests() == 0  # same sha256: not downloaded again
    assert any("updated_since=2026-04-02" in line for line in registry.log)
    stored = physicians()
    assert len(stored) == 2 and stored[1].status == RegistrationStatus.WITHDRAWN
    assert stored[1].face_encoding is not None  # history kept


def test_500_in_the_middle_keeps_what_was_stored_and_the_next_pull_resumes(registry, pull):
    for n in range(1, 6):
        registry.add(item(n, id_number=resident_id(n), updated_at=f"2026-04-0{n}T10:00:00+08:00"))
    registry.fail_page[1] = [500, 500, 500]  # page 2 fails on every retry of this pull
    with pytest.raises(RegistryError) as err:
        pull()
    assert err.value.retriable
    assert [p.registration_id for p in physicians()] == ["HN2026-0000001", "HN2026-0000002"]
    cycle = db.session.scalars(sa.select(Cycle)).one()
    assert (
        cycle.resume_cursor is not None
        and cycle.last_pull_ok is False
        and "500" in cycle.last_pull_error
    )
    registry.log.clear()
    report = pull()  # the registry is back
    assert report.created == 3 and report.unchanged == 0
    assert "cursor=" in registry.log[0]  # resumed, not started over
    assert len(physicians()) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 5


def test_429_is_retried_after_the_time_it_asks_for(registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at="2026-04-01T10:00:00+08:00"))
    registry.fail_page[0] = [429]
    registry.retry_after = "7"
    pull()
    assert pull.sleeps == [7.0]
    assert len(physicians()) == 1


def test_5xx_is_retried_with_backoff(registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at="2026-04-01T10:00:00+08:00"))
    registry.fail_page[0] = [502, 503]
    pull()
    assert pull.sleeps == [1.0, 2.0]


def test_malformed_json_is_retried_then_kept_safe(registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at="2026-04-01T10:00:00+08:00"))
    registry.malformed_page[0] = 1
    pull()
    assert len(physicians()) == 1
    registry.add(item(2, id_number=resident_id(2), updated_at="2026-04-05T10:00:00+08:00"))
    registry.malformed_page[0] = 5
    with pytest.raises(RegistryError, match="malformed"):
        pull()
    assert len(physicians()) == 1


def test_a_bad_token_fails_at_once(registry, pull):
    with pytest.raises(RegistryError) as err:
        pull(token="wrong")
    assert not err.value.retriable and pull.sleeps == []


def test_missing_and_invalid_fields_are_reported_not_stored(registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at="2026-04-01T10:00:00+08:00"))
    bad_category = item(
        2,
        id_number=resident_id(2),
        updated_at="2026-04-02T10:00:00+08:00",
        practice_category="surgery",
    )
    registry.add(bad_category)
    no_name = item(3, id_number=resident_id(3), updated_at="2026-04-03T10:00:00+08:00")
    del no_name["name"]
    registry.add(no_name)
    wrong_check = item(
        4,
        id_number=resident_id(4)[:17] + ("0" if resident_id(4)[17] != "0" else "1"),
        updated_at="2026-04-04T10:00:00+08:00",
    )
    registry.add(wrong_check)
    report = pull()
    assert [p.registration_id for p in physicians()] == ["HN2026-0000001"]
    problems = {(p.registration_id, p.field) for p in db.session.scalars(sa.select(RosterProblem))}
    assert problems == {
        ("HN2026-0000002", "practice_category"),
        ("HN2026-0000003", "name"),
        ("HN2026-0000004", "id_number"),
    }
    assert len(report.problems) == 3
    # Fixed at the registry: the next pull stores it and clears the problem.
    registry.add(item(2, id_number=resident_id(2), updated_at="2026-04-06T10:00:00+08:00"))
    pull()
    assert "HN2026-0000002" in [p.registration_id for p in physicians()]
    assert ("HN2026-0000002", "practice_category") not in {
        (p.registration_id, p.field) for p in db.session.scalars(sa.select(RosterProblem))
    }


def test_photo_with_wrong_sha256_is_not_accepted(registry, pull, faces_photos):
    data = item(
        1,
        id_number=resident_id(1),
        updated_at="2026-04-01T10:00:00+08:00",
        photo=faces_photos["obama"],
    )
    data["photo"]["sha256"] = "0" * 64
    registry.add(data, faces_photos["obama"])
    pull()
    (physician,) = physicians()
    assert (
        physician.photo_status == PhotoStatus.FAILED
        and physician.photo_problem == "sha256_mismatch"
    )


def test_15_and_18_digit_forms_and_x_case_are_one_account(registry, pull):
    number = "11010519491231002X"
    registry.add(item(1, id_number=number, updated_at="2026-04-01T10:00:00+08:00"))
    pull()
    registry.add(item(1, id_number=number.lower(), updated_at="2026-04-02T10:00:00+08:00"))
    pull()
    fifteen = "110105491231002"
    assert to_15(number) == fifteen
    registry.add(item(1, id_number=fifteen, updated_at="2026-04-03T10:00:00+08:00"))
    pull()
    users = db.session.scalars(sa.select(User).where(User.role == Role.PHYSICIAN)).all()
    assert len(users) == 1 and users[0].login == number
    assert len(physicians()) == 1


def test_two_pulls_never_run_at_once(app, clock, registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at="2026-04-01T10:00:00+08:00"))
    pull()
    assert operations.take_lease("HN-2026", clock.now())
    db.session.commit()
    with pytest.raises(operations.PullBusy):
        pull()
    clock.advance(minutes=31)  # an abandoned lease expires
    pull()


def test_the_registry_is_asked_with_no_transaction_open(app, clock, registry, faces_photos):
    """Pages and photos are fetched between units of work: no connection is held (nor any
    lock) while the registry answers, however slowly."""
    for n, name in ((1, "obama"), (2, "biden"), (3, "two")):
        registry.add(
            item(
                n,
                id_number=resident_id(n),
                updated_at="2026-04-01T10:00:00+08:00",
                photo=faces_photos[name],
            ),
            faces_photos[name],
        )
    asked: list[tuple[str, bool]] = []

    class Watched(RegistryClient):
        def roster_page(self, *args, **kwargs):
            asked.append(("page", db.session().in_transaction()))
            return super().roster_page(*args, **kwargs)

        def photo(self, url: str) -> bytes:
            asked.append(("photo", db.session().in_transaction()))
            return super().photo(url)

    operations.pull(
        Watched(registry.url, TOKEN, policy=RetryPolicy(attempts=1)),
        "HN-2026",
        now=clock.now,
        data_dir=app.config["DATA_DIR"],
        checker=operations.engine_photo_checker,
        page_size=2,
    )
    assert [what for what, _ in asked] == ["page", "photo", "photo", "page", "photo"]
    assert not any(open_ for _, open_ in asked), asked
    assert [p.photo_status for p in physicians()] == [
        PhotoStatus.OK,
        PhotoStatus.OK,
        PhotoStatus.FAILED,
    ]
