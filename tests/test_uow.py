"""The unit of work: one commit or one rollback per unit, and one retry policy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from examsvc import uow
from examsvc.accounts.models import User
from examsvc.extensions import db
from tests.factories import create_user


def conflict() -> IntegrityError:
    return IntegrityError("INSERT …", {}, Exception("UNIQUE constraint failed"))


def test_a_unit_commits_on_return_and_rolls_back_on_error(app):
    user = create_user()
    user_id = user.id
    db.session.commit()
    with uow.unit_of_work():
        db.session.get(User, user_id).display_name = "改过"
    with pytest.raises(RuntimeError), uow.unit_of_work():
        db.session.get(User, user_id).display_name = "又改"
        db.session.flush()
        raise RuntimeError("refused")
    db.session.remove()
    assert db.session.scalar(sa.select(User.display_name).where(User.id == user_id)) == "改过"


def test_conflicts_rerun_the_whole_unit_up_to_the_one_policy(app):
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise conflict()

    with pytest.raises(IntegrityError):
        uow.run(always, uow.ATTEMPTS)
    assert len(calls) == uow.ATTEMPTS == 3

    outcomes = [conflict(), None]

    def settles() -> str:
        if (outcome := outcomes.pop(0)) is not None:
            raise outcome
        return "ok"

    assert uow.run(settles, uow.ATTEMPTS) == "ok"


def test_other_errors_are_not_retried(app):
    calls: list[int] = []

    def fails() -> None:
        calls.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        uow.run(fails, uow.ATTEMPTS)
    assert calls == [1]


def test_the_retry_mark_survives_the_view_decorators(app):
    view = app.view_functions["attempts_api.start"]
    assert uow.attempts_of(view) == uow.ATTEMPTS
    assert uow.attempts_of(app.view_functions["attempts_api.submit"]) == 1


def test_a_conflict_at_commit_is_rolled_back_and_retried(app, monkeypatch):
    """The commit itself may lose the race (PostgreSQL reports serialisation there)."""
    commits: list[int] = []
    real_commit = db.session.commit

    def commit() -> None:
        commits.append(1)
        if len(commits) == 1:
            raise conflict()
        real_commit()

    monkeypatch.setattr(db.session, "commit", commit)
    user = create_user()
    user_id = user.id
    real_commit()

    seen: list[str] = []

    def rename() -> None:
        user = db.session.get(User, user_id)
        seen.append(user.display_name)
        user.display_name = "再试"

    uow.run(rename, uow.ATTEMPTS)
    assert len(commits) == 2
    assert seen == [seen[0], seen[0]] and seen[0] != "再试"  # the second run started afresh
    db.session.remove()
    assert db.session.scalar(sa.select(User.display_name).where(User.id == user_id)) == "再试"


def test_a_dry_run_keeps_nothing_it_did_nor_its_after_commit_callbacks(app):
    user = create_user()
    user_id = user.id
    db.session.commit()
    called: list[int] = []

    def change() -> None:
        db.session.get(User, user_id).display_name = "试过"
        db.session.flush()
        uow.after_commit(lambda: called.append(1))

    uow.dry_run(change)
    with uow.unit_of_work():  # the next unit does not run the dry run's callback
        pass
    db.session.remove()
    assert db.session.scalar(sa.select(User.display_name).where(User.id == user_id)) != "试过"
    assert called == []
