"""The exam's Socket.IO channel: answers saved at once, acknowledged with their seq.

Auth at connect from the Flask session; each save runs the same code as the HTTP fallback.
"""

from __future__ import annotations

from typing import Any

from flask_socketio import ConnectionRefusedError, join_room
from pydantic import ValidationError

from examsvc.accounts.auth import current_user
from examsvc.enums import Role
from examsvc.extensions import db, socketio
from examsvc.web.errors import ApiError

NAMESPACE = "/exam"


@socketio.on("connect", namespace=NAMESPACE)
def connect(auth: Any = None) -> None:
    user = current_user()
    if user is None or user.role != Role.PHYSICIAN or user.must_change_password:
        raise ConnectionRefusedError("unauthorized")
    join_room(f"user:{user.id}")


@socketio.on("answer", namespace=NAMESPACE)
def answer(data: Any) -> dict[str, Any]:
    """``{attempt_id, position, response, marked, seq, journaled_at}`` → ``{ok, code, seq}``."""
    from examsvc.attempts.api import AnswerBody, save

    try:
        if not isinstance(data, dict):
            raise ApiError(400, "bad_payload", "数据格式不正确")
        body = AnswerBody.model_validate(data)
        return save(int(data.get("attempt_id", 0)), int(data.get("position", 0)), body)
    except ValidationError:
        return {"ok": False, "code": "invalid", "message": "提交的内容有误"}
    except ApiError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    finally:
        db.session.remove()
