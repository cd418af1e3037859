"""Structured logs: one JSON object a line, a request id per HTTP request and per Socket.IO
event, and nothing personal.

``EXAMSVC_LOG_FORMAT=json|text`` (``examsvc serve`` and gunicorn default to json). Each line
has ``time``, ``level``, ``logger``, ``message``, ``request_id`` and the record's extras.
The messages name rows by id, never a physician; as a safety net every line is scrubbed of
what looks like an ID number (身份证号) or a mobile number, and client addresses are logged
as a keyed hash, never raw."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request

from examsvc import drain

INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# An 18- or 15-character ID number, or a mainland mobile number, wherever it appears.
PERSONAL = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15}|1[3-9]\d{9})(?![0-9A-Za-z])")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "id_number", "name")


def scrub(text: str) -> str:
    return PERSONAL.sub("[redacted]", text)


def request_id() -> str | None:
    return g.get("request_id") if has_app_context() else None


def new_request_id(incoming: str | None = None) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a fresh one."""
    if incoming and INCOMING_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def client_hash(address: str | None) -> str:
    """A keyed, shortened hash of the client's address: joins lines, reveals no address."""
    if not address:
        return "-"
    key = current_app.config["SECRET_KEY"].encode() if has_app_context() else b""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:12]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if any(word in key.lower() for word in SECRET_WORDS):
                continue  # never logged, whatever a caller passes
            line[key] = value if isinstance(value, int | float | bool | None) else scrub(str(value))
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id()
        return True


_installed: list[logging.Handler] = []


def install(fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record (the root logger's) to ``stream`` (stderr) in ``fmt``."""
    uninstall()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    _installed.append(handler)
    return handler


def uninstall() -> None:
    root = logging.getLogger()
    while _installed:
        root.removeHandler(_installed.pop())


def configure(app: Flask, default: str = "text") -> None:
    """Under ``serve``/gunicorn: json unless ``EXAMSVC_LOG_FORMAT`` says text."""
    fmt = app.config["LOG_FORMAT"] or default
    if fmt not in ("json", "text"):
        fmt = "json"
    install(fmt)


access = logging.getLogger("examsvc.access")


def init_app(app: Flask) -> None:
    @app.before_request
    def _begin() -> None:
        g.request_id = new_request_id(request.headers.get("X-Request-ID"))
        g.request_started = time.perf_counter()
        drain.enter()
        g.request_tracked = True

    @app.after_request
    def _end(response: Response) -> Response:
        if has_request_context() and g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
            access.info(
                "%s %s %s",
                request.method,
                request.url_rule.endpoint if request.url_rule is not None else "unmatched",
                response.status_code,
                extra={
                    "endpoint": request.url_rule.endpoint if request.url_rule else None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
                    "client": client_hash(request.remote_addr),
                },
            )
        return response

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        if g.pop("request_tracked", False):
            drain.leave()
