"""Staff and physician namespaces, the password rules, the reset confirmation, and the
one safe-redirect check for every ``next=``."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from examsvc.accounts.ids import normalise, to_15
from examsvc.accounts.models import User
from examsvc.accounts.operations import ensure_physician_user
from examsvc.accounts.passwords import INITIAL_PASSWORD, hash_password, verify_password
from examsvc.enums import Role
from examsvc.extensions import db
from tests.factories import create_cycle, create_physician, create_user, login_as


def login(client, login_value, password, next_url=None):
    """Log in on the form; ``next_url`` goes into the query string as written (raw)."""
    return client.post(
        "/login",
        query_string=None if next_url is None else f"next={next_url}",
        data={"login": login_value, "password": password},
    )


# --- namespaces ------------------------------------------------------------------------


def _shadow(document: str, clock):
    """A roster record whose non-resident document number is ``document``."""
    user = ensure_physician_user(
        normalise(document), "影子医师", hash_password(INITIAL_PASSWORD), now=clock.now()
    )
    physician = create_physician(create_cycle(), user=user, id_number=normalise(document))
    db.session.commit()
    return physician


def test_a_document_number_equal_to_a_staff_login_does_not_shadow_it(client, clock):
    create_user(Role.INVIGILATOR, login="jiankao", password="Proctor-Pass1")
    db.session.commit()
    _shadow("jiankao", clock)
    # The invigilator still logs in, and reaches the staff pages.
    response = login(client, "jiankao", "Proctor-Pass1")
    assert response.status_code == 302 and not response.headers["Location"].endswith("/home")
    client.post("/logout")
    # The staff login name never reaches the physician's account, whatever the password.
    assert login(client, "jiankao", INITIAL_PASSWORD).status_code == 401
    # The physician logs in with the document number as issued.
    assert (
        login(client, "JIANKAO", INITIAL_PASSWORD).headers["Location"].endswith("/account/password")
    )


def test_a_roster_record_never_takes_over_a_staff_account(app, clock):
    staff = create_user(Role.ADMIN, login="ZHANG01", password="Admin-Pass1")
    db.session.commit()
    physician = _shadow("zhang01", clock)
    assert physician.user_id != staff.id
    assert db.session.get(User, physician.user_id).role == Role.PHYSICIAN
    db.session.refresh(staff)
    assert verify_password(staff.password_hash, "Admin-Pass1")


# --- password rules --------------------------------------------------------------------


def _change(client, new, old="Right-Pass1"):
    return client.post("/account/password", data={"old": old, "new": new, "repeat": new})


@pytest.mark.parametrize("new", ["666666aB", "Xy!666666", "a666666B"])
def test_a_new_password_may_not_contain_the_initial_password(client, new):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    db.session.commit()
    login(client, physician.id_number, "Right-Pass1")
    response = _change(client, new)
    assert response.status_code == 422
    assert "新密码不能包含初始密码 666666" in response.get_data(as_text=True)
    db.session.refresh(physician.user)
    assert verify_password(physician.user.password_hash, "Right-Pass1")


def test_a_new_password_may_not_contain_the_id_number_in_either_form(client):
    physician = create_physician(create_cycle(), password="Right-Pass1")
    db.session.commit()
    login(client, physician.id_number, "Right-Pass1")
    for new in (f"Ab!{physician.id_number.lower()}", f"Ab!{to_15(physician.id_number)}"):
        page = _change(client, new).get_data(as_text=True)
        assert "新密码不能包含证件号码或用户名" in page


def test_a_staff_password_may_not_contain_the_login(client):
    create_user(Role.INVIGILATOR, login="wangfang", password="Right-Pass1")
    db.session.commit()
    login(client, "wangfang", "Right-Pass1")
    page = _change(client, "WangFang-2026").get_data(as_text=True)
    assert "新密码不能包含证件号码或用户名" in page
    assert _change(client, "Good-Pass-2026").status_code == 302


# --- reset confirmation ----------------------------------------------------------------


def test_reset_to_the_initial_password_asks_first(client):
    physician = create_physician(create_cycle(), password="Changed-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    login_as(client, Role.ADMIN)
    listing = client.get(f"/admin/users?q={physician.name}").get_data(as_text=True)
    assert f"/admin/users/{physician.user_id}/reset-password" in listing
    page = client.get(f"/admin/users/{physician.user_id}/reset-password?q={physician.name}")
    text = page.get_data(as_text=True)
    assert "确认将该医师的密码重置为初始密码 666666 吗？" in text and "确认重置" in text
    assert physician.name in text and physician.id_number not in text
    # A POST without the confirmation (an old form, a forged click) changes nothing.
    client.post(f"/admin/users/{physician.user_id}/reset-password")
    db.session.refresh(physician.user)
    assert verify_password(physician.user.password_hash, "Changed-Pass1")
    done = client.post(
        f"/admin/users/{physician.user_id}/reset-password",
        data={"confirm": "1", "q": physician.name},
    )
    assert done.status_code == 302 and "q=" in done.headers["Location"]
    db.session.refresh(physician.user)
    assert verify_password(physician.user.password_hash, INITIAL_PASSWORD)
    assert physician.user.must_change_password


# --- redirects -------------------------------------------------------------------------

NASTY = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "//evil.example",
    "///evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "https://evil.example/",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    "%09//evil.example",
    "/%E3%80%80/evil.example",
    "/%E2%80%8B/evil.example",
    "evil.example",
]


@pytest.mark.parametrize("target", NASTY)
def test_login_never_redirects_off_site(client, target):
    create_user(Role.ADMIN, login="boss", password="Right-Pass1")
    db.session.commit()
    response = login(client, "boss", "Right-Pass1", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", NASTY)
def test_the_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string=f"next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_path_on_this_site_is_kept(client):
    create_user(Role.ADMIN, login="boss", password="Right-Pass1")
    db.session.commit()
    target = "/admin/roster?q=张&page=2"
    response = login(client, "boss", "Right-Pass1", next_url=quote(target, safe=""))
    assert response.headers["Location"] == "/admin/roster?q=%E5%BC%A0&page=2"
    assert client.get("/lang/zh?next=/admin/banks").headers["Location"] == "/admin/banks"
