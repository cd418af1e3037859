"""Chinese is the source language; every string the code and the templates show has an
English translation in examsvc/translations/en/LC_MESSAGES/messages.po, and the English
pages show no Chinese but the people's data."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from examsvc.enums import Evaluation, Role
from examsvc.extensions import db
from tests.conftest import REPO
from tests.factories import create_cycle, create_physician, login_as
from tests.factories_exam import create_bank, create_paper, create_window, let_in
from tests.html_text import visible_text
from tests.roster.test_files import csv_bytes, row

PO = REPO / "examsvc" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
HAN = re.compile(r"[\u3400-\u9fff]")
FIELD = re.compile(r"\{(\w*)\}")


def extracted(tmp_path: Path) -> list[str]:
    """The msgids ``scripts/translations.sh update`` would extract today."""
    pot = tmp_path / "messages.pot"
    command = ["extract", "-F", "babel.cfg", "-k", "N_", "--no-location", "-o", str(pot), "."]
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "--quiet", *command],
        cwd=REPO,
        check=True,
    )
    with pot.open("rb") as f:
        return [m.id for m in read_po(f) if m.id]


def english() -> dict[str, object]:
    with PO.open("rb") as f:
        catalog = read_po(f)
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries (check and unmark them): {fuzzy}"
    return {m.id: m.string for m in catalog if m.id}


def test_every_string_of_the_code_and_the_templates_has_an_english_entry(tmp_path):
    ids = extracted(tmp_path)
    assert "登录" in ids and "考核机构管理员" in ids and "单选题" in ids  # templates, N_ marks
    table = english()
    missing = [i for i in ids if not table.get(i)]
    assert not missing, f"no English (run scripts/translations.sh update, translate): {missing}"


def test_english_entries_are_complete_and_keep_the_fields():
    for msgid, text in english().items():
        assert isinstance(text, str) and text.strip(), f"empty English for {msgid!r}"
        assert not HAN.search(text), f"Chinese left in the English for {msgid!r}: {text!r}"
        assert sorted(FIELD.findall(text)) == sorted(FIELD.findall(msgid)), (msgid, text)


@pytest.fixture
def people(app, clock):
    """A cycle with a humanities paper open now, a physician (logged out) and the data that
    the pages show as it was entered (names, institution, cycle, paper, bank)."""
    cycle = create_cycle()
    create_bank(now=clock.now())
    paper = create_paper(cycle.id, clock.now())
    create_window(paper, clock.now(), hours=48)
    physician = create_physician(cycle, password="Right-Pass1")
    physician.user.must_change_password = False
    db.session.commit()
    data = [physician.name, physician.institution_name, cycle.name, paper.name, "humanities 题库"]
    return {"physician": physician, "paper": paper, "data": data}


def seen(client, url: str, data: list[str]) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    text = visible_text(response.get_data(as_text=True))
    for value in data:
        text = text.replace(value, "")
    return text


def physician_pages(client, people) -> dict[str, str]:
    data = people["data"]
    pages = {"login": seen(client, "/login", data)}
    client.post("/login", data={"login": people["physician"].id_number, "password": "Right-Pass1"})
    exam = f"/exam/paper/{people['paper'].id}"
    let_in(client, people["physician"])
    pages["consent"] = seen(client, exam + "/consent", data)
    for name, url in [
        ("home", "/home"),
        ("exam rules", exam),
        ("results", "/results"),
        ("study", "/study"),
        ("password", "/account/password"),
    ]:
        pages[name] = seen(client, url, data)
    return pages


STAFF_PAGES = [
    "/admin",
    "/admin/roster",
    "/admin/results",
    "/admin/progress",
    "/admin/statistics",
    "/admin/statistics/people?figure=roster",
    "/admin/windows",
    "/admin/sessions",
    "/admin/users",
    "/admin/entry",
]


def test_the_pages_speak_english_after_the_switch(client, people):
    redirect = client.get("/lang/en?next=/login")
    assert redirect.status_code == 302 and "lang=en" in redirect.headers["Set-Cookie"]
    pages = physician_pages(client, people)
    client.post("/logout")
    login_as(client, Role.ADMIN)
    pages |= {url: seen(client, url, people["data"]) for url in [*STAFF_PAGES, "/admin/audit"]}
    for name, text in pages.items():
        assert not HAN.search(text.replace("中文", "")), (name, HAN.findall(text), text)
    assert "Log in" in pages["login"] and "Exam rules" in pages["exam rules"]
    assert "I consent" in pages["consent"]
    assert "Start the assessment" in pages["home"] and "Registered physicians" in pages["/admin"]
    assert "Log in" in pages["/admin/audit"] and "Agency administrator" in pages["/admin/users"]


def test_the_pages_speak_chinese_by_default(client, people):
    pages = physician_pages(client, people)
    assert "登录" in pages["login"] and "English" in pages["login"]
    assert "考前须知" in pages["exam rules"] and "进入测评" in pages["home"]
    login_as(client, Role.ADMIN)
    assert "报名人数" in seen(client, "/admin", people["data"])
    assert "Log in" not in pages["login"] and "Registered" not in seen(client, "/admin", [])


def test_the_configured_language_is_the_default_and_the_cookie_wins(app, client, people):
    app.config["LANGUAGE"] = "en"
    assert "Log in" in seen(client, "/login", [])
    client.get("/lang/zh?next=/login")
    assert "登录" in seen(client, "/login", [])
    client.set_cookie("lang", "fr")  # unknown: Chinese, as before
    assert "登录" in seen(client, "/login", [])


def test_sentences_with_fields_are_translated_with_their_labels(client, people):
    """A reason made of a label and a name (a Text) reads as one English sentence."""
    people["physician"].eval_ethics = Evaluation.FAIL
    db.session.commit()
    client.set_cookie("lang", "en")
    client.post("/login", data={"login": people["physician"].id_number, "password": "Right-Pass1"})
    assert "Professional ethics evaluation: failed" in seen(client, "/results", [])
    client.set_cookie("lang", "zh")
    assert "职业道德评定不合格" in seen(client, "/results", [])


def test_a_refused_roster_file_explains_itself_in_english(client, people):
    login_as(client, Role.ADMIN)
    client.set_cookie("lang", "en")
    data = csv_bytes([row(1), row(2, 执业类别="外科"), row(1)])
    response = client.post(
        "/admin/roster/import",
        data={"file": (io.BytesIO(data), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    text = visible_text(response.get_data(as_text=True))
    assert "“外科” is not an allowed value" in text
    assert "Registration number" in text and "repeats row 2" in text
