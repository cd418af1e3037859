"""The answer counters against a real ``examsvc serve``: an ``answer`` over a real Socket.IO
connection counts under ``channel="socket"`` (the counter and its acknowledgement-latency
histogram), the HTTP fallback save under ``channel="http"``; ``/metrics`` read over HTTP
from loopback, as the host's Prometheus does."""

from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from examsvc.demo.data import PHYSICIANS, demo_id
from tests.e2e.conftest import launch, physician_session, some_answer, start_first_paper
from tests.e2e.test_scale_out import channel
from tests.faults.conftest import close

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str) -> Samples:
    response = requests.get(base + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_socket_and_http_answers_count_under_their_own_channel(tmp_path):
    with launch(tmp_path / "server") as server:
        number = demo_id(PHYSICIANS[1][0], PHYSICIANS[1][8])
        http = physician_session(server.url, number, "Count-Doc-2026")
        started = start_first_paper(server.url, http)
        items = [i for i in started["items"] if some_answer(i) is not None][:2]
        client, _ = channel(server.url, http, "/exam", [])
        try:
            joined = client.call("exam_join", {"attempt_id": started["id"]}, namespace="/exam")
            assert joined["ok"], joined
            before = scrape(server.url)
            ack = client.call(
                "answer",
                {
                    "attempt_id": started["id"],
                    "position": items[0]["position"],
                    "response": some_answer(items[0]),
                    "marked": False,
                    "seq": 1,
                },
                namespace="/exam",
                timeout=15,
            )
            assert ack["ok"], ack
            after_socket = scrape(server.url)
            token = http.get(server.url + "/api/v1/session").json()["csrf_token"]
            saved = http.put(
                f"{server.url}/api/v1/exam/attempts/{started['id']}/answers/{items[1]['position']}",
                json={"response": some_answer(items[1]), "seq": 2},
                headers={"X-CSRFToken": token},
                timeout=15,
            )
            assert saved.ok and saved.json()["ok"], saved.text
            after_http = scrape(server.url)
        finally:
            close(client)
            http.close()

    socket, web = {"channel": "socket"}, {"channel": "http"}
    assert grew(before, after_socket, "examsvc_answers_saved_total", **socket) == 1
    assert grew(before, after_socket, "examsvc_answer_ack_seconds_count", **socket) == 1
    assert grew(before, after_socket, "examsvc_answer_ack_seconds_sum", **socket) > 0
    # Every bucket at or above the observed latency took it (le="+Inf" always does).
    inf = {**socket, "le": "+Inf"}
    assert grew(before, after_socket, "examsvc_answer_ack_seconds_bucket", **inf) == 1
    assert grew(before, after_socket, "examsvc_answers_saved_total", **web) == 0
    # The HTTP fallback counts under its own label, the socket's stays as it was.
    assert grew(after_socket, after_http, "examsvc_answers_saved_total", **web) == 1
    assert grew(after_socket, after_http, "examsvc_answer_ack_seconds_count", **web) == 1
    assert grew(after_socket, after_http, "examsvc_answers_saved_total", **socket) == 0


def test_a_serving_process_reads_its_loop_lag(tmp_path):
    with launch(tmp_path / "server") as server:
        lag = ("examsvc_loop_lag_seconds_count", ())
        deadline = time.monotonic() + 10  # the first reading comes 0.5 s after the start
        while (samples := scrape(server.url)).get(lag, 0.0) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert samples.get(lag, 0.0) >= 1
        assert samples[("examsvc_loop_lag_seconds_sum", ())] >= 0
