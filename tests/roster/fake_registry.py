"""A fake provincial registration system speaking registry API v1 over real HTTP.

Started by the tests in a thread; knobs inject the failures the contract names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CYCLE = {
    "code": "HN-2026",
    "name": "2024-2026 周期",
    "starts_on": "2024-01-01",
    "ends_on": "2026-12-31",
}
TOKEN = "test-token"


def item(
    n: int, *, id_number: str, updated_at: str, photo: bytes | None = None, **overrides: Any
) -> dict[str, Any]:
    """A valid roster item; ``photo`` bytes are served at /api/v1/photos/<id>.jpg."""
    registration_id = f"HN2026-{n:07d}"
    data: dict[str, Any] = {
        "registration_id": registration_id,
        "status": "approved",
        "id_type": "resident_id",
        "id_number": id_number,
        "name": f"测试医师{n}号",
        "gender": "F",
        "birth_date": "1980-01-01",
        "phone": "13800000000",
        "institution": {"code": "HN-430102-001", "name": "测试市人民医院"},
        "department": "内科",
        "practice_category": "clinical",
        "physician_level": "physician",
        "procedure": "simple",
        "exemptions": [],
        "evaluation": {"work_performance": "pass", "ethics": "pass"},
        "photo": None,
        "updated_at": updated_at,
    }
    if photo is not None:
        data["photo"] = {
            "url": f"/api/v1/photos/{registration_id}.jpg",
            "sha256": hashlib.sha256(photo).hexdigest(),
        }
    data.update(overrides)
    return data


class FakeRegistry:
    def __init__(self, port: int = 0) -> None:
        """``port``: a fixed one (the fault suite stops the registry and starts another on
        the same address); 0 picks a free one."""
        self.items: list[dict[str, Any]] = []
        self.photos: dict[str, bytes] = {}
        # page index -> statuses to answer before answering properly (e.g. [500, 500])
        self.fail_page: dict[int, list[int]] = defaultdict(list)
        self.malformed_page: dict[int, int] = defaultdict(
            int
        )  # page index -> times to send bad JSON
        self.retry_after = "7"
        # photo path -> statuses to answer before answering properly (e.g. [500, 500, 500])
        self.fail_photo: dict[str, list[int]] = defaultdict(list)
        # the status GET on an exam result answers instead (405/501: cannot be read back)
        self.result_reads: int | None = None
        self.log: list[str] = []
        self._init_results()
        self.server = make_server("127.0.0.1", port, self.wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/"

    def add(self, data: dict[str, Any], photo: bytes | None = None) -> None:
        self.items = [i for i in self.items if i["registration_id"] != data["registration_id"]] + [
            data
        ]
        if photo is not None:
            self.photos[data["photo"]["url"]] = photo

    def start(self) -> FakeRegistry:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def photo_requests(self) -> int:
        return sum("/photos/" in line for line in self.log)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.log.append(request.full_path)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(json.dumps({"error": "bad token"}), 401)(environ, start_response)
        if request.path.startswith("/api/v1/photos/"):
            if self.fail_photo[request.path]:
                status = self.fail_photo[request.path].pop(0)
                return Response(json.dumps({"error": "busy"}), status)(environ, start_response)
            data = self.photos.get(request.path)
            response = (
                Response(data, mimetype="image/jpeg") if data is not None else Response("", 404)
            )
            return response(environ, start_response)
        if request.method == "GET" and request.path.endswith("/exam-result"):
            return self._read_result(request)(environ, start_response)
        if request.method == "PUT" and request.path.endswith("/exam-result"):
            return self._put_result(request)(environ, start_response)
        if request.path != f"/api/v1/cycles/{CYCLE['code']}/roster":
            return Response("{}", 404)(environ, start_response)
        return self._roster(request)(environ, start_response)

    def _roster(self, request: Request) -> Response:
        limit = min(int(request.args.get("limit", 100)), 1000)
        cursor = request.args.get("cursor")
        offset = json.loads(base64.urlsafe_b64decode(cursor))["o"] if cursor else 0
        page_index = offset // limit
        if self.fail_page[page_index]:
            status = self.fail_page[page_index].pop(0)
            headers = {"Retry-After": self.retry_after} if status == 429 else {}
            return Response(json.dumps({"error": "busy"}), status, headers=headers)
        if self.malformed_page[page_index] > 0:
            self.malformed_page[page_index] -= 1
            return Response(
                '{"cycle": {"code": "HN-2026", "items": [', 200, mimetype="application/json"
            )
        since = request.args.get("updated_since")
        items = sorted(self.items, key=lambda i: (i["updated_at"] or "", i["registration_id"]))
        if since:
            items = [
                i
                for i in items
                if datetime.fromisoformat(i["updated_at"]) >= datetime.fromisoformat(since)
            ]
        chunk = items[offset : offset + limit]
        more = offset + limit < len(items)
        next_cursor = (
            base64.urlsafe_b64encode(json.dumps({"o": offset + limit}).encode()).decode()
            if more
            else None
        )
        body = {"cycle": CYCLE, "items": chunk, "next_cursor": next_cursor}
        return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")

    # --- reading a stored exam result back (GET on the write-back's URL) ------------------

    def _read_result(self, request: Request) -> Response:
        if self.result_reads is not None:
            return Response(json.dumps({"error": "not supported"}), self.result_reads)
        # /api/v1/cycles/{cycle}/records/{registration_id}/exam-result, any cycle
        parts = request.path.strip("/").split("/")
        is_record = (
            len(parts) == 7 and parts[:3] == ["api", "v1", "cycles"] and parts[4] == "records"
        )
        stored = self.results.get(parts[5]) if is_record else None
        if stored is None:
            return Response(json.dumps({"error": "no exam result"}), 404)
        return Response(json.dumps(stored, ensure_ascii=False), mimetype="application/json")

    # --- the result write-back (registry API v1 §2) -------------------------------------

    def _init_results(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}  # registration_id -> the stored body
        self.stored_keys: dict[str, str] = {}  # Idempotency-Key -> registration_id
        self.stores: dict[str, int] = defaultdict(int)  # registration_id -> results stored
        self.duplicates: dict[str, int] = defaultdict(int)  # key -> repeats deduplicated
        self.puts: list[tuple[str, str]] = []  # (registration_id, key) of every PUT received
        self.closed: set[str] = set()  # registration ids answered 409
        self.fail_next = 0  # answer the next N PUTs with ``fail_status``
        self.failing = False  # answer every PUT with ``fail_status`` until switched back
        self.fail_status = 503
        self.put_retry_after: str | None = None  # sent with 429/503 answers
        # A slow answer: the result is stored, then the answer waits until ``release``.
        self.stall = False
        self.stalled = threading.Event()  # set when a PUT is being held
        self.release = threading.Event()

    def _put_result(self, request: Request) -> Response:
        parts = request.path.split("/")  # /api/v1/cycles/{cycle}/records/{id}/exam-result
        registration_id = parts[-2]
        key = request.headers.get("Idempotency-Key", "")
        self.puts.append((registration_id, key))
        if self.failing or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            headers = {"Retry-After": self.put_retry_after} if self.put_retry_after else {}
            return Response(json.dumps({"error": "unavailable"}), self.fail_status, headers=headers)
        if not key:
            return Response(json.dumps({"error": "Idempotency-Key required"}), 400)
        if registration_id in self.closed:
            body = {"error": "record_closed", "message": "该报名记录已锁定，不能写入考核结果"}
            return Response(json.dumps(body, ensure_ascii=False), 409, mimetype="application/json")
        if key in self.stored_keys:
            self.duplicates[key] += 1
            status = 200
        else:
            body = request.get_json()
            if not isinstance(body, dict) or body.get("verdict") not in ("pass", "fail"):
                return Response(json.dumps({"error": "invalid body"}), 422)
            self.stored_keys[key] = registration_id
            self.results[registration_id] = body
            self.stores[registration_id] += 1
            status = 201
        if self.stall:
            self.stalled.set()
            self.release.wait(30)
        return Response(json.dumps({"stored": True}), status, mimetype="application/json")
