"""Logging in as a physician and as staff, the forced first change, the password rules."""

from __future__ import annotations

import logging

from examsvc.accounts.ids import to_15
from examsvc.accounts.models import User
from examsvc.accounts.passwords import INITIAL_PASSWORD, verify_password
from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, create_user


def _physician(password: str = INITIAL_PASSWORD, must_change: bool = True):
    physician = create_physician(create_cycle(), password=password)
    physician.user.must_change_password = must_change
    db.session.commit()
    return physician


def login(client, login_value, password):
    return client.post("/login", data={"login": login_value, "password": password})


def test_first_login_with_15_digit_form_forces_a_password_change(client):
    physician = _physician()
    response = login(client, to_15(physician.id_number), INITIAL_PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/password")
    # Every other page sends the physician back to the change page, so it offers no menu
    # of them (links that would only lead back): only 退出.
    assert client.get("/home").headers["Location"].endswith("/account/password")
    page = client.get("/account/password").get_data(as_text=True)
    assert "退出" in page and 'href="/home"' not in page and "考核结果" not in page

    def change(new, repeat=None, old=INITIAL_PASSWORD):
        return client.post(
            "/account/password", data={"old": old, "new": new, "repeat": repeat or new}
        )

    assert "密码长度至少为8位" in change("Ab1!").get_data(as_text=True)
    assert "至少三种" in change("abcdefgh1").get_data(as_text=True)
    assert "原密码不正确" in change("Good-Pass1", old="nope").get_data(as_text=True)
    assert "不一致" in change("Good-Pass1", repeat="Good-Pass2").get_data(as_text=True)
    db.session.refresh(physician.user)
    assert physician.user.must_change_password

    response = change("Good-Pass1")
    assert response.status_code == 302
    db.session.refresh(physician.user)
    assert not physician.user.must_change_password
    assert verify_password(physician.user.password_hash, "Good-Pass1")
    home = client.get("/home")
    assert home.status_code == 200 and "考核结果" in home.get_data(as_text=True)


def test_old_password_is_never_accepted_as_the_new_one(client):
    physician = _physician(password="Old-Pass1", must_change=False)
    login(client, physician.id_number, "Old-Pass1")
    response = client.post(
        "/account/password", data={"old": "Old-Pass1", "new": "Old-Pass1", "repeat": "Old-Pass1"}
    )
    assert "新密码不能与原密码相同" in response.get_data(as_text=True)


def test_lower_case_x_logs_in(client):
    cycle = create_cycle()
    physician = create_physician(cycle, id_number="11010519491231002X", password="Pass-word1")
    db.session.commit()
    assert login(client, "11010519491231002x", "Pass-word1").status_code == 302
    assert physician.user.login == "11010519491231002X"


def test_wrong_check_digit_gets_its_own_message(client):
    _physician()
    response = login(client, "110105194912310021", "whatever")
    assert response.status_code == 400
    assert "校验码不正确" in response.get_data(as_text=True)


def test_unknown_account_and_wrong_password_read_the_same(client):
    physician = _physician(password="Right-Pass1", must_change=False)
    unknown = login(client, "staff-nobody", "x").get_data(as_text=True)
    wrong = login(client, physician.id_number, "Wrong-Pass1").get_data(as_text=True)
    assert "证件号码（用户名）或密码错误" in unknown
    assert "证件号码（用户名）或密码错误" in wrong


def test_deactivated_staff_cannot_log_in(client):
    user = create_user(Role.INVIGILATOR, login="inv1", password="Right-Pass1")
    user.active = False
    db.session.commit()
    assert login(client, "inv1", "Right-Pass1").status_code == 401


def test_password_change_ends_other_sessions(app, client):
    physician = _physician(password="Right-Pass1", must_change=False)
    other = app.test_client()
    login(client, physician.id_number, "Right-Pass1")
    login(other, physician.id_number, "Right-Pass1")
    client.post(
        "/account/password",
        data={"old": "Right-Pass1", "new": "Newer-Pass2", "repeat": "Newer-Pass2"},
    )
    assert client.get("/home").status_code == 200
    assert other.get("/home").headers["Location"].startswith("/login")


def test_json_session_api(client):
    physician = _physician(password="Right-Pass1", must_change=False)
    assert client.get("/api/v1/session").get_json()["user"] is None
    bad = client.post("/api/v1/session", json={"login": physician.id_number, "password": "x"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "bad_credentials"
    good = client.post(
        "/api/v1/session", json={"login": physician.id_number, "password": "Right-Pass1"}
    )
    assert good.get_json()["user"]["role"] == "physician"
    assert client.delete("/api/v1/session").get_json()["user"] is None


def test_nothing_sensitive_is_logged(client, caplog):
    physician = _physician(password="Right-Pass1", must_change=False)
    with caplog.at_level(logging.DEBUG):
        login(client, physician.id_number, "Wrong-Pass1")
        login(client, physician.id_number, "Right-Pass1")
    text = caplog.text
    assert physician.id_number not in text
    assert "Right-Pass1" not in text and "Wrong-Pass1" not in text


def test_argon2id_hashes(app):
    physician = _physician()
    user = db.session.get(User, physician.user_id)
    assert user.password_hash.startswith("$argon2id$")


def test_a_hash_with_the_old_parameters_still_verifies_and_is_rehashed_at_login(client):
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash("Old-Pass1")
    physician = _physician(password="Old-Pass1", must_change=False)
    physician.user.password_hash = old
    db.session.commit()
    assert login(client, physician.id_number, "Old-Pass1").status_code == 302
    db.session.refresh(physician.user)
    assert physician.user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(physician.user.password_hash, "Old-Pass1")
