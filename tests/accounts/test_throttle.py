"""Throttling an attacker cannot turn against a victim: waits per (account, address) pair
and, more loosely, per address; no account lock; known and unknown IDs answered alike."""

from __future__ import annotations

import sqlalchemy as sa

from examsvc.accounts.models import LoginThrottle, User
from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, create_user, login_as, resident_id

ATTACKER = "203.0.113.9"
VICTIM = "198.51.100.7"


def _physician(password: str = "Right-Pass1"):
    physician = create_physician(create_cycle(), password=password)
    physician.user.must_change_password = False
    db.session.commit()
    return physician


def api_login(client, login: str, password: str, address: str):
    return client.post(
        "/api/v1/session",
        json={"login": login, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def form_login(client, login: str, password: str, address: str):
    return client.post(
        "/login",
        data={"login": login, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_from_elsewhere_never_keep_the_real_user_out(app, client, clock):
    physician = _physician()
    for _ in range(40):  # far beyond the old lock, and again after every wait
        api_login(client, physician.id_number, "Wrong-Pass1", ATTACKER)
        clock.advance(seconds=1)
    victim = app.test_client()
    assert form_login(victim, physician.id_number, "Right-Pass1", VICTIM).status_code == 302
    assert victim.get("/home").status_code == 200


def test_a_pair_waits_1_2_4_8_seconds_capped_and_a_wait_refuses_even_the_right_password(
    app, client, clock
):
    app.config.update(LOGIN_FREE_FAILURES=3, LOGIN_MAX_DELAY_SECONDS=8)
    physician = _physician()

    def fail():
        return api_login(client, physician.id_number, "Wrong-Pass1", ATTACKER)

    for _ in range(3):
        assert fail().status_code == 401
    refused = api_login(client, physician.id_number, "Right-Pass1", ATTACKER)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == {
        "code": "throttled",
        "message": "尝试次数过多，请 1 秒后再试",
        "details": [],
    }
    waits = []
    for _ in range(5):
        seconds = 0
        while fail().status_code == 429:
            clock.advance(seconds=1)
            seconds += 1
        waits.append(seconds)
    assert waits == [1, 2, 4, 8, 8]
    clock.advance(seconds=8)
    assert api_login(client, physician.id_number, "Right-Pass1", ATTACKER).status_code == 200
    client.delete("/api/v1/session")
    assert fail().status_code == 401  # the right password cleared the pair


def test_known_and_unknown_ids_are_answered_exactly_alike(client, clock):
    physician = _physician()
    unknown = resident_id(987)  # a valid number nobody registered
    assert db.session.scalars(sa.select(User).where(User.login == unknown)).first() is None
    seen = []
    for _ in range(12):
        known_answer = api_login(client, physician.id_number, "Wrong-Pass1", ATTACKER)
        unknown_answer = api_login(client, unknown, "Wrong-Pass1", VICTIM)
        assert known_answer.status_code == unknown_answer.status_code
        assert known_answer.get_json() == unknown_answer.get_json()
        seen.append(known_answer.get_json()["error"]["code"])
    # Both were slowed down the same way: no lock, no oracle of who is registered.
    assert "bad_credentials" in seen and "throttled" in seen
    assert "account_locked" not in seen


def test_the_address_limit_is_looser_and_per_address(app, client, clock):
    app.config.update(LOGIN_FREE_FAILURES=3, LOGIN_FREE_FAILURES_PER_ADDRESS=6)
    physician = _physician()
    for n in range(6):  # one failure each on six different accounts: no pair reaches 3
        api_login(client, resident_id(900 + n), "Wrong", ATTACKER)
    refused = api_login(client, physician.id_number, "Right-Pass1", ATTACKER)
    assert refused.status_code == 429 and "尝试次数过多" in refused.get_json()["error"]["message"]
    assert (
        api_login(app.test_client(), physician.id_number, "Right-Pass1", VICTIM).status_code == 200
    )
    clock.advance(seconds=1)
    assert api_login(client, physician.id_number, "Right-Pass1", ATTACKER).status_code == 200


def test_the_login_form_says_how_long_to_wait(app, client, clock):
    app.config.update(LOGIN_FREE_FAILURES=1)
    physician = _physician()
    form_login(client, physician.id_number, "Wrong", ATTACKER)
    page = form_login(client, physician.id_number, "Right-Pass1", ATTACKER)
    assert page.status_code == 429
    assert "尝试次数过多，请 1 秒后再试" in page.get_data(as_text=True)


def test_failures_are_forgotten_after_a_quiet_hour(app, client, clock):
    app.config.update(LOGIN_FREE_FAILURES=3)
    physician = _physician()
    for _ in range(2):
        api_login(client, physician.id_number, "Wrong", ATTACKER)
    clock.advance(seconds=app.config["LOGIN_FORGET_SECONDS"] + 1)
    for _ in range(2):
        assert api_login(client, physician.id_number, "Wrong", ATTACKER).status_code == 401
    assert api_login(client, physician.id_number, "Right-Pass1", ATTACKER).status_code == 200


def test_an_agency_reset_lifts_every_wait_on_the_account(app, client, clock):
    app.config.update(LOGIN_FREE_FAILURES=1, LOGIN_MAX_DELAY_SECONDS=900)
    physician = _physician()
    for _ in range(12):
        api_login(client, physician.id_number, "Wrong", VICTIM)
        clock.advance(seconds=1)
    assert api_login(client, physician.id_number, "Right-Pass1", VICTIM).status_code == 429
    admin = app.test_client()
    login_as(admin, Role.ADMIN)
    admin.post(f"/admin/users/{physician.user_id}/reset-password", data={"confirm": "1"})
    assert api_login(client, physician.id_number, "666666", VICTIM).status_code == 200


def test_the_throttle_table_holds_no_id_number_or_address(client):
    physician = _physician()
    api_login(client, physician.id_number, "Wrong", ATTACKER)
    rows = db.session.scalars(sa.select(LoginThrottle)).all()
    assert len(rows) == 2
    stored = " ".join(f"{r.key} {r.account}" for r in rows)
    assert physician.id_number not in stored and ATTACKER not in stored


def test_guessing_the_current_password_is_throttled_like_a_login(app, client, clock):
    app.config.update(LOGIN_FREE_FAILURES=3)
    user = create_user(Role.INVIGILATOR, login="inv9", password="Right-Pass1")
    db.session.commit()
    form_login(client, "inv9", "Right-Pass1", ATTACKER)

    def change(old: str):
        return client.post(
            "/account/password",
            data={"old": old, "new": "Newer-Pass2", "repeat": "Newer-Pass2"},
            environ_base={"REMOTE_ADDR": ATTACKER},
        )

    for _ in range(3):
        assert "原密码不正确" in change("Guess-1").get_data(as_text=True)
    refused = change("Right-Pass1")
    assert refused.status_code == 422
    assert "尝试次数过多" in refused.get_data(as_text=True)
    clock.advance(seconds=1)
    assert change("Right-Pass1").status_code == 302
    db.session.refresh(user)
    assert not user.must_change_password


def test_forgotten_rows_leave_the_table(app, client, clock):
    physician = _physician()
    api_login(client, physician.id_number, "Wrong", ATTACKER)
    clock.advance(seconds=app.config["LOGIN_FORGET_SECONDS"] + 1)
    api_login(client, physician.id_number, "Wrong", VICTIM)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginThrottle)) == 2
