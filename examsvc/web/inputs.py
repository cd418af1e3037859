"""Limits on what comes in, for HTTP and the socket alike: JSON no deeper than
``MAX_JSON_DEPTH``, and integers in URLs no larger than the database's ``INTEGER``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from socketio import packet as socketio_packet
from werkzeug.routing import IntegerConverter

from examsvc.marks import N_
from examsvc.web.errors import ApiError

# The largest value of an INTEGER column on every database we run on (PostgreSQL's int4).
MAX_INT = 2**31 - 1
# Our deepest legitimate body is a paper specification (about 5 levels).
MAX_JSON_DEPTH = 32
BAD_JSON = N_("请求内容不是有效的 JSON，或嵌套过深")


class JSONTooDeep(ValueError):
    pass


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` that raises ``ValueError`` (never ``RecursionError``) for deep input,
    and refuses ``NaN`` and ``Infinity`` (not JSON, and PostgreSQL's ``jsonb`` refuses them)."""
    kwargs.setdefault("parse_constant", _not_json)
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep("JSON nested too deeply") from None
    if isinstance(value, dict | list) and too_deep(value):
        raise JSONTooDeep(f"JSON nested more than {MAX_JSON_DEPTH} levels")
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, **kwargs)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies with the depth limit."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


class DatabaseIntConverter(IntegerConverter):
    """``<int:…>`` that no row can be beyond: a larger number is a 404, not a database error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any route is added: the converter, the JSON reader, the body check."""
    app.url_map.converters["int"] = DatabaseIntConverter
    app.json = JSONProvider(app)

    @app.before_request
    def refuse_unreadable_json() -> None:
        """Every JSON body is read once, before the view: unreadable or too deep is a 400."""
        if request.is_json and request.get_data(cache=True):
            try:
                request.get_json(cache=True)
            except Exception:  # werkzeug's BadRequest, or an unsupported charset
                raise ApiError(400, "bad_json", BAD_JSON) from None


# --- the socket --------------------------------------------------------------------------

# The event a packet becomes when its JSON cannot be read: the namespace's catch-all handler
# acknowledges it with ``bad_json`` (a client cannot tell it from any other unknown event).
UNREADABLE_EVENT = "\x00unreadable"


class SocketJSON:
    """The JSON module of Socket.IO and Engine.IO packets."""

    dumps = staticmethod(dumps)
    loads = staticmethod(loads)


class SocketPacket(socketio_packet.Packet):
    """Socket.IO packets read with the depth limit; an event whose JSON is unreadable keeps
    its namespace and acknowledgement id, so that it can still be answered."""

    json = SocketJSON

    def decode(self, encoded_packet: Any) -> int:
        try:
            return int(super().decode(encoded_packet))
        except ValueError:
            if self.packet_type != socketio_packet.EVENT or self.id is None:
                raise
            self.data = [UNREADABLE_EVENT]
            return 0


def allowed_origins(setting: str) -> list[str]:
    """``EXAMSVC_ALLOWED_ORIGINS`` as a list of ``scheme://host[:port]``; ``*`` is refused."""
    origins = [o.strip().rstrip("/") for o in setting.split(",") if o.strip()]
    for origin in origins:
        if "*" in origin or "://" not in origin:
            raise ValueError(
                f"EXAMSVC_ALLOWED_ORIGINS: {origin!r} is not an origin such as https://exam.example.cn"
            )
    return origins


def origin_check(extra: list[str]) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's origin check: the page's own origin (the request's scheme, or the proxy's
    ``X-Forwarded-Proto``, with its ``Host``) and the ``extra`` origins. A browser sends
    ``Origin`` on every WebSocket handshake and cross-site request and cannot forge it."""

    def allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        host = environ.get("HTTP_HOST", "")
        schemes = {environ.get("wsgi.url_scheme", "http")}
        if forwarded := environ.get("HTTP_X_FORWARDED_PROTO"):
            schemes.add(forwarded.split(",")[0].strip())
        return origin in extra or origin in {f"{scheme}://{host}" for scheme in schemes}

    return allowed
