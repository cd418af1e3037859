"""CPU-bound work leaves the event loop: hashing on threads, parsing and PDFs in worker
processes, full pools answer 503 at once, and a waiting request holds no connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from examsvc import offload
from examsvc.accounts.models import User
from examsvc.accounts.passwords import hash_password, verify_password
from examsvc.enums import Role
from examsvc.extensions import db
from examsvc.roster import files as roster_files
from question_banks import BankImportError, parse_bank
from question_banks.template import build_template
from tests.factories import create_user

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def pools(app: Flask) -> Iterator[None]:
    """One thread and one process, nothing may wait: the smallest pools, as ``serve`` has."""
    app.config.update(OFFLOAD_THREADS=1, OFFLOAD_PROCESSES=1, OFFLOAD_QUEUE=0)
    offload.start(app)
    yield
    offload.stop()


def test_without_pools_work_runs_in_the_caller(app):
    assert offload.metrics() is None
    assert offload.hash_call(threading.get_ident) == threading.get_ident()
    assert offload.process_call(os.getpid) == os.getpid()


def test_password_hashing_runs_on_another_thread(pools):
    assert offload.hash_call(threading.get_ident) != threading.get_ident()
    before = offload.metrics()["threads"]["completed"]  # type: ignore[index]
    assert verify_password(hash_password("Right-Pass1"), "Right-Pass1")
    assert offload.metrics()["threads"]["completed"] == before + 2  # type: ignore[index]


def test_parsing_runs_in_a_worker_process_with_the_same_results_and_errors(pools):
    assert offload.process_call(os.getpid) != os.getpid()
    template = build_template()
    assert offload.process_call(parse_bank, template, "t.xlsx") == parse_bank(template, "t.xlsx")
    bad = "题目编号,题型\nQ1,单选\n".encode()
    with pytest.raises(BankImportError) as far:
        offload.process_call(parse_bank, bad, "bad.csv")
    with pytest.raises(BankImportError) as near:
        parse_bank(bad, "bad.csv")
    assert far.value.problems == near.value.problems and far.value.problems
    with pytest.raises(roster_files.RosterFileError) as roster:
        offload.process_call(roster_files.parse, "姓名\n张三\n".encode(), "r.csv")
    assert "缺少「报名编号」列" in [p.message for p in roster.value.problems]


def test_a_worker_that_dies_is_replaced(pools):
    with pytest.raises(offload.Busy):
        offload.process_call(os._exit, 1)
    assert offload.process_call(os.getpid) != os.getpid()


def test_a_full_pool_answers_busy_at_once_in_the_error_shape(app, client, pools):
    user = create_user(Role.ADMIN, password="Right-Pass1")
    db.session.commit()
    running, release = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        release.wait()

    holder = threading.Thread(target=offload.hash_call, args=(hold,))
    holder.start()
    running.wait()
    try:
        response = client.post(
            "/api/v1/session", json={"login": user.login, "password": "Right-Pass1"}
        )
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
        assert response.get_json() == {
            "error": {
                "code": "busy",
                "message": "服务器繁忙，请稍后再试",
                "details": [],
                "retry_after": 2,
            }
        }
        page = client.post("/login", data={"login": user.login, "password": "Right-Pass1"})
        assert page.status_code == 503 and "服务器繁忙，请稍后再试" in page.get_data(as_text=True)
        assert offload.metrics()["threads"]["refused"] == 2  # type: ignore[index]
    finally:
        release.set()
        holder.join()
    response = client.post("/api/v1/session", json={"login": user.login, "password": "Right-Pass1"})
    assert response.status_code == 200


def test_waiting_ends_a_read_only_transaction_but_never_one_that_wrote(app, pools):
    user = create_user(Role.ADMIN)
    db.session.commit()
    db.session.scalar(sa.select(User.login).where(User.id == user.id))
    assert db.session().in_transaction()
    offload.hash_call(str, 1)
    assert not db.session().in_transaction()  # its connection went back to the pool

    user.display_name = "改名"
    db.session.flush()
    offload.hash_call(str, 1)
    assert db.session().in_transaction() and user.display_name == "改名"
    db.session.rollback()
    assert db.session.get(User, user.id).display_name != "改名"


LOOP = """
import json, sys
from gevent import monkey
monkey.patch_all()
import gevent
from flask import Flask
from examsvc import offload
from examsvc.accounts.passwords import hash_password
from examsvc.results.notice import Notice, NoticePaper, render
from question_banks import parse_bank
from datetime import datetime, timezone

app = Flask("loop")
app.config.update(OFFLOAD_THREADS=1, OFFLOAD_PROCESSES=1, OFFLOAD_QUEUE=2)
if sys.argv[2] == "pools":
    offload.start(app)
ticks = 0

def tick():
    global ticks
    while True:
        ticks += 1
        gevent.sleep(0)

gevent.spawn(tick)
gevent.sleep(0)
data = open(sys.argv[1], "rb").read()
notice = Notice("张三", "4301**********0011", "演示医院", "2026", "一般程序",
                [NoticePaper("医学人文", "合格（90分）")], "合格",
                datetime(2026, 5, 12, tzinfo=timezone.utc), None)
between = {}
for name, work in (
    ("parse", lambda: offload.process_call(parse_bank, data, "bank.xlsx")),
    ("hash", lambda: hash_password("Right-Pass1")),
    ("pdf", lambda: offload.process_call(render, notice, sys.argv[3])),
):
    before = ticks
    work()
    between[name] = ticks - before
offload.stop()
print(json.dumps(between))
"""


def _ticks_between(tmp_path: Path, mode: str, font: str) -> dict[str, int]:
    bank = tmp_path / "bank.xlsx"
    bank.write_bytes(build_template())
    done = subprocess.run(
        [sys.executable, "-c", LOOP, str(bank), mode, font],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_event_loop_keeps_running_while_work_is_offloaded(app, tmp_path):
    """Under gevent (as ``examsvc serve`` runs), another greenlet gets turns while a bank
    is parsed, a password hashed and a notice rendered; without the pools it gets none."""
    font = app.config["CJK_FONT"]
    assert _ticks_between(tmp_path, "inline", font) == {"parse": 0, "hash": 0, "pdf": 0}
    offloaded = _ticks_between(tmp_path, "pools", font)
    assert all(n > 0 for n in offloaded.values()), offloaded


def test_workbooks_are_built_in_a_worker_process(pools):
    """Templates and bank exports (thousands of rows) are built off the loop too, and come
    back as the same workbook."""
    made = offload.process_call(build_template)
    assert parse_bank(made, "t.xlsx") == parse_bank(build_template(), "t.xlsx")
    completed = offload.metrics()["processes"]["completed"]  # type: ignore[index]
    offload.process_call(build_template)
    assert offload.metrics()["processes"]["completed"] == completed + 1  # type: ignore[index]
