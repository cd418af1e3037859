"""我要学习: 模拟练习 and 背题模式 from the banks the agency opened for study. Nothing here is
stored: no attempt, no limit used, no verdict. Closed while the physician sits an attempt."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from examsvc.accounts.auth import current_user, physician_required
from examsvc.banks.models import QuestionBank
from examsvc.marks import N_
from examsvc.roster.queries import logged_in_physician
from examsvc.study import operations as ops
from examsvc.web.errors import ApiError
from question_banks.types import QUESTION_TYPES

bp = Blueprint("study", __name__)
CLOSED = N_("您有正在进行的测评。为保证考核公平，交卷前不能使用“我要学习”（模拟练习和背题模式）。")


@bp.before_request
def closed_during_an_attempt() -> Any:
    """Every study page and request, whatever its route: none while an attempt is open."""
    user = current_user()
    attempt = ops.open_attempt(user.id) if user is not None else None
    if attempt is None:
        return None
    if request.path.startswith("/api/") or request.is_json:
        raise ApiError(409, "attempt_in_progress", CLOSED)
    return render_template("study/closed.html", attempt=attempt, message=CLOSED), 409


def _banks() -> list[QuestionBank]:
    physician = logged_in_physician()
    return ops.study_banks(physician) if physician else []


@bp.get("/study")
@physician_required
def index() -> str:
    return render_template("study/index.html", banks=_banks(), size=ops.SET_SIZE)


def _response(number: int) -> Any:
    raw = request.form.get(f"q{number}", "")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_response", N_("第 {n} 题的作答格式不正确"), n=number) from None


@bp.route("/study/<int:bank_id>", methods=["GET", "POST"])
@physician_required
def practice(bank_id: int) -> str | BaseResponse:
    bank = next((b for b in _banks() if b.id == bank_id), None)
    if bank is None:
        abort(404)
    seed = request.values.get("seed", type=int) or secrets.randbelow(2**31)
    memorise = request.values.get("mode") == "memorise"
    graded = request.method == "POST"
    questions: list[dict[str, Any]] = []
    earned = total = 0
    for number, item in enumerate(ops.practice_set(bank, seed), start=1):
        data, kind = item.question.data, QUESTION_TYPES[item.question.qtype]
        view: dict[str, Any] = {
            "number": number,
            **kind.candidate_view(data, item.order),
        }
        if graded:
            response = _response(number)
            if kind.validate_response(data, response) is not None:
                raise ApiError(400, "bad_response", N_("第 {n} 题的作答格式不正确"), n=number)
            marks = kind.grade(data, response)
            view["correct"] = all(marks)
            view["key"] = kind.display_key(data, item.order, response)
            earned, total = earned + sum(marks), total + len(marks)
        elif memorise:
            view["key"] = kind.display_key(data, item.order)
        questions.append(view)
    return render_template(
        "study/practice.html",
        bank=bank,
        questions=questions,
        seed=seed,
        memorise=memorise and not graded,
        score=round(earned / total * 100, 1) if graded and total else None,
        earned=earned,
        total=total,
    )
