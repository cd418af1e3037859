"""模拟试卷 and 背题模式. Nothing here is stored: no attempt, no limit used, no verdict."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Blueprint, abort, render_template, request

from examsvc.accounts.auth import current_user, physician_required
from examsvc.attempts import operations as ops
from examsvc.banks.models import Question
from examsvc.clock import now
from examsvc.extensions import db
from examsvc.papers.models import Paper
from examsvc.papers.operations import draw_questions
from examsvc.roster.queries import current_physician
from question_banks.types import QUESTION_TYPES

bp = Blueprint("study", __name__)


def _papers() -> list[Paper]:
    user = current_user()
    physician = current_physician(user.id) if user else None
    if physician is None:
        return []
    ids = [s.paper.id for s in ops.overview(physician, now()).states]
    return [p for p in (db.session.get(Paper, i) for i in ids) if p is not None]


@bp.get("/study")
@physician_required
def index() -> str:
    return render_template("study/index.html", papers=_papers())


def _mock(paper: Paper, seed: int) -> list[dict[str, Any]]:
    items = draw_questions(paper, seed)
    out = []
    for number, item in enumerate(items, start=1):
        question = db.session.get(Question, item.question_id)
        assert question is not None
        kind = QUESTION_TYPES[question.qtype]
        out.append(
            {
                "number": number,
                "id": question.id,
                "label": kind.label_zh,
                "points": item.points_per_item,
                **kind.public_view(question.data, item.option_order),
                "_question": question,
            }
        )
    return out


@bp.route("/study/<int:paper_id>", methods=["GET", "POST"])
@physician_required
def mock(paper_id: int) -> str:
    paper = next((p for p in _papers() if p.id == paper_id), None)
    if paper is None:
        abort(404)
    seed = request.values.get("seed", type=int) or secrets.randbelow(2**31)
    memorise = request.values.get("mode") == "memorise"
    questions = _mock(paper, seed)
    graded = None
    if request.method == "POST" or memorise:
        earned = total = 0.0
        for q in questions:
            data = q["_question"].data
            kind = QUESTION_TYPES[q["_question"].qtype]
            q["key"] = kind.answer_view(data)
            if request.method == "POST":
                raw = request.form.get(f"q{q['number']}")
                response = json.loads(raw) if raw else None
                marks = kind.grade(data, response)
                q["correct"] = all(marks)
                earned += q["points"] * sum(marks)
                total += q["points"] * len(marks)
        if request.method == "POST":
            graded = round(earned / total * 100, 1) if total else 0.0
    return render_template(
        "study/mock.html",
        paper=paper,
        questions=questions,
        seed=seed,
        memorise=memorise,
        graded=graded,
    )
