"""A TCP proxy in the test between Chromium's exam page and ``examsvc serve`` drops every
connection, then leaves the open ones stalled (a NAT that forgot them, a phone changing
networks) while new ones flow: the page's journal replays after each cut, and the database
holds each question's last answer once, in the order the candidate gave them (``seq``)."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import sqlalchemy as sa

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import SERVERS, _free_port, browser, first_login, let_in, server_database
from tests.faults.conftest import service

pytestmark = [pytest.mark.faults, pytest.mark.browser]
__all__ = ["browser"]  # the fixture


class Proxy:
    """127.0.0.1:<port> → the server. ``drop()`` closes every connection and refuses new
    ones; ``stall()`` freezes the open ones for good while new ones flow; ``open()``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = _free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.dropping = False
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.dropping:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            flowing = threading.Event()
            flowing.set()
            with self.lock:
                self.pairs.append((client, upstream, flowing))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, flowing), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, flowing: threading.Event) -> None:
        try:
            while data := source.recv(65536):
                flowing.wait()  # a stalled connection holds its bytes for ever
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def drop(self) -> None:
        self.dropping = True
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream, flowing in pairs:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            flowing.set()

    def stall(self) -> None:
        with self.lock:
            for _, _, flowing in self.pairs:
                flowing.clear()

    def open(self) -> None:
        self.dropping = False

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.drop()
        with self.lock:
            for client, upstream, _ in self.pairs:
                client.close()
                upstream.close()


def test_the_journal_replays_through_dropped_and_stalled_connections(tmp_path, browser):
    from examsvc.attempts.models import Answer, Attempt, AttemptItem
    from examsvc.extensions import db

    with service(tmp_path) as svc:
        proxy = Proxy(svc.port)
        base = f"http://127.0.0.1:{proxy.port}"
        SERVERS[base] = svc.server
        context = browser.new_context(viewport={"width": 1366, "height": 800}, bypass_csp=True)
        try:
            page = context.new_page()
            first_login(
                page, svc.server, demo_id(PHYSICIANS[0][0], PHYSICIANS[0][8]), "Net-Doc-2026"
            )
            let_in(base, page)
            page.goto(base + "/home")
            page.click("text=进入测评")
            page.check("input[name=rules]")
            page.click("text=我知晓--开始考试")
            page.wait_for_selector("#q1.current")
            attempt_id = int(page.url.rsplit("/", 1)[1])
            journal = f"Object.keys(JSON.parse(localStorage.getItem('examsvc:attempt:{attempt_id}:journal') || '{{}}')).length"
            saved = "document.getElementById('save-status').textContent === '已保存'"

            def answer(position: int, option: int) -> None:
                page.click(f"#navigator button[aria-label='{position}']")
                page.wait_for_selector(f"#q{position}.current")
                page.locator(f"#q{position} input").nth(option).check()

            answer(1, 0)
            page.wait_for_function(saved, timeout=10_000)

            # 1. Every connection dropped, new ones refused: the answers wait in the journal.
            proxy.drop()
            answer(2, 0)
            answer(2, 1)  # changed its mind while offline: the later one must win
            answer(3, 0)
            page.wait_for_function(f"{journal} === 3", timeout=10_000)
            proxy.open()
            page.wait_for_function(f"{saved} && {journal} === 0", timeout=30_000)

            # 2. The open connections stall for good; new ones flow.
            proxy.stall()
            answer(4, 0)
            answer(1, 1)
            page.wait_for_function(f"{saved} && {journal} === 0", timeout=30_000)
        finally:
            context.close()
            proxy.close()
            SERVERS.pop(base, None)

        with server_database(svc.url):
            rows = db.session.execute(
                sa.select(AttemptItem.position, Answer.seq, Answer.response)
                .join(AttemptItem, Answer.item_id == AttemptItem.id)
                .where(Answer.attempt_id == attempt_id)
                .order_by(AttemptItem.position)
            ).all()
            last_seq = db.session.get(Attempt, attempt_id).last_seq
        positions = [p for p, _, _ in rows]
        assert positions == [1, 2, 3, 4], rows  # one row per question, none lost
        seq = {p: s for p, s, _ in rows}
        # The order the candidate answered in: q2 (twice), q3, q4, then q1 again.
        assert seq[2] < seq[3] < seq[4] < seq[1] == last_seq, rows
        assert len(set(seq.values())) == 4
