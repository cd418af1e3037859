"""A page is stored with one read of what exists and one flush: the decisions stay those of
storing its items one by one, in order (an item sees the page's earlier items)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from examsvc.accounts.ids import id_key, to_15
from examsvc.accounts.models import User
from examsvc.extensions import db
from examsvc.registry import RegistryClient, RetryPolicy
from examsvc.roster import files, operations
from examsvc.roster.models import Physician, RosterProblem
from examsvc.signals import verdicts_may_change
from tests.factories import create_cycle, resident_id
from tests.roster.fake_registry import TOKEN, item
from tests.roster.test_files import csv_bytes, row


@pytest.fixture
def pull(app, clock, registry):
    def run(page_size: int = 10) -> operations.PullReport:
        client = RegistryClient(
            registry.url, TOKEN, policy=RetryPolicy(attempts=1), sleep=lambda _s: None
        )
        return operations.pull(
            client,
            "HN-2026",
            now=clock.now,
            data_dir=app.config["DATA_DIR"],
            checker=operations.engine_photo_checker,
            page_size=page_size,
        )

    return run


@pytest.fixture
def announced():
    sent: list[tuple[int, ...]] = []

    def receiver(sender: tuple[int, ...], **_kw: object) -> None:
        sent.append(sender)

    verdicts_may_change.connect(receiver)
    yield sent
    verdicts_may_change.disconnect(receiver)


def stored() -> dict[str, Physician]:
    return {p.registration_id: p for p in db.session.scalars(sa.select(Physician))}


def problems() -> dict[tuple[str, str], str]:
    return {
        (p.registration_id, p.field): p.message
        for p in db.session.scalars(sa.select(RosterProblem))
    }


def accounts() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


def at(day: int) -> str:
    return f"2026-04-{day:02d}T10:00:00+08:00"


def test_the_same_id_number_twice_in_a_page_keeps_the_first_and_names_it(registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at=at(1)))
    registry.add(item(2, id_number=to_15(resident_id(1)), updated_at=at(2)))  # 15 digits: same
    registry.add(item(3, id_number=resident_id(3), updated_at=at(3)))
    report = pull()
    assert report.pages == 1 and report.created == 2
    assert sorted(stored()) == ["HN2026-0000001", "HN2026-0000003"]
    assert problems() == {("HN2026-0000002", "id_number"): "证件号码与报名 HN2026-0000001 重复"}
    assert report.problems == [
        ("HN2026-0000002", "id_number", "证件号码与报名 HN2026-0000001 重复")
    ]
    assert accounts() == 2  # the refused item made no account


def test_a_page_whose_second_item_is_invalid_names_it_and_stores_the_others(registry, pull):
    registry.add(item(1, id_number=resident_id(1), updated_at=at(1)))
    registry.add(item(2, id_number=resident_id(2), updated_at=at(2), practice_category="surgery"))
    registry.add(item(3, id_number=resident_id(3), updated_at=at(3)))
    report = pull()
    assert sorted(stored()) == ["HN2026-0000001", "HN2026-0000003"]
    ((registration, fld, why),) = report.problems
    assert (registration, fld) == ("HN2026-0000002", "practice_category")
    assert why and problems() == {("HN2026-0000002", "practice_category"): why}
    assert accounts() == 2


def test_a_registration_given_twice_in_a_page_is_stored_once_as_its_last_item(
    registry, pull, announced
):
    registry.add(item(1, id_number=resident_id(1), updated_at=at(1)))
    again = item(1, id_number=resident_id(1), updated_at=at(2), department="外科")
    again["status"] = "withdrawn"
    registry.items.append(again)  # the registry sends HN2026-0000001 twice in one page
    report = pull()
    (physician,) = stored().values()
    assert (physician.department, physician.status.value) == ("外科", "withdrawn")
    assert (report.created, report.updated, report.withdrawn) == (1, 1, 1)
    assert announced == [(physician.id, physician.id)]  # as one by one: each time it decides
    assert accounts() == 1


def test_a_problem_fixed_later_in_the_page_goes_and_one_made_later_stays(registry, pull):
    registry.items += [
        item(2, id_number=resident_id(2), updated_at=at(1), practice_category="surgery"),
        item(2, id_number=resident_id(2), updated_at=at(2)),
        item(3, id_number=resident_id(3), updated_at=at(3)),
        item(3, id_number=resident_id(3), updated_at=at(4), physician_level="chief_physician"),
    ]
    report = pull()
    assert sorted(stored()) == ["HN2026-0000002", "HN2026-0000003"]
    assert [(r, f) for r, f, _ in report.problems] == [
        ("HN2026-0000002", "practice_category"),
        ("HN2026-0000003", "physician_level"),
    ]
    assert list(problems()) == [("HN2026-0000003", "physician_level")]
    assert stored()["HN2026-0000003"].physician_level.value == "physician"  # the first stays


def test_an_id_number_given_up_earlier_in_the_page_can_be_taken_later_in_it(registry, pull):
    """Registration 2 moves to a new ID number, then 1 takes 2's old one and a new 4 takes
    1's old one: one by one each step is allowed; the flush must write them in that order
    (the database holds one ID number per cycle at every statement)."""
    for n in (1, 2):
        registry.add(item(n, id_number=resident_id(n), updated_at=at(1)))
    pull()
    account_of_1 = stored()["HN2026-0000001"].user_id
    registry.add(item(2, id_number=resident_id(3), updated_at=at(2)))
    registry.add(item(1, id_number=resident_id(2), updated_at=at(3)))
    registry.add(item(4, id_number=resident_id(1), updated_at=at(4)))
    report = pull()
    assert (report.updated, report.created, report.problems) == (2, 1, [])
    keys = {r: p.id_key for r, p in stored().items()}
    assert keys == {
        "HN2026-0000001": id_key(resident_id(2)),
        "HN2026-0000002": id_key(resident_id(3)),
        "HN2026-0000004": id_key(resident_id(1)),
    }
    # An account belongs to an ID number: 4 logs in with the one 1 had.
    assert stored()["HN2026-0000004"].user_id == account_of_1
    assert accounts() == 3


def test_two_registrations_swapping_id_numbers_in_a_page_are_both_refused(registry, pull):
    for n in (1, 2):
        registry.add(item(n, id_number=resident_id(n), updated_at=at(1)))
    pull()
    registry.add(item(1, id_number=resident_id(2), updated_at=at(2)))
    registry.add(item(2, id_number=resident_id(1), updated_at=at(3)))
    report = pull()
    assert problems() == {
        ("HN2026-0000001", "id_number"): "证件号码与报名 HN2026-0000002 重复",
        ("HN2026-0000002", "id_number"): "证件号码与报名 HN2026-0000001 重复",
    }
    assert report.updated == 0
    keys = {r: p.id_key for r, p in stored().items()}
    assert keys == {
        "HN2026-0000001": id_key(resident_id(1)),
        "HN2026-0000002": id_key(resident_id(2)),
    }


def test_changed_verdict_fields_are_announced_once_per_page(registry, pull, announced):
    for n in (1, 2, 3):
        registry.add(item(n, id_number=resident_id(n), updated_at=at(n)))
    pull(page_size=2)
    ids = {r: p.id for r, p in stored().items()}
    assert announced == [
        (ids["HN2026-0000001"], ids["HN2026-0000002"]),
        (ids["HN2026-0000003"],),
    ]
    announced.clear()
    registry.add(
        item(
            2,
            id_number=resident_id(2),
            updated_at=at(9),
            evaluation={"work_performance": "fail", "ethics": "pass"},
        )
    )
    registry.add(item(3, id_number=resident_id(3), updated_at=at(9), phone="13900000000"))
    report = pull()
    assert (report.updated, report.unchanged) == (2, 0)
    assert announced == [(ids["HN2026-0000002"],)]  # a phone number decides nothing


def test_a_file_whose_second_row_takes_a_stored_id_number_names_that_row_and_stores_nothing(
    app, clock
):
    cycle = create_cycle()
    operations.import_items(cycle, files.parse(csv_bytes([row(1)]), "a.csv"), now=clock.now())
    db.session.commit()
    items = files.parse(csv_bytes([row(2), row(3, 证件号码=resident_id(1))]), "b.csv")
    with pytest.raises(files.RosterFileError) as err:
        operations.import_items(cycle, items, now=clock.now())
    assert [(p.row, p.column, p.message) for p in err.value.problems] == [
        (3, "证件号码", "证件号码与已有报名 HN2026-0000001 重复")
    ]
    db.session.rollback()
    assert sorted(stored()) == ["HN2026-0000001"] and accounts() == 1
