"""The agency's back office: the staff landing page."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from examsvc.accounts.auth import current_user, staff_required
from examsvc.enums import Role
from examsvc.web.i18n import register

bp = Blueprint("admin", __name__)

EN = {
    "首页": "Home",
    "考核周期": "Assessment cycle",
    "报名人数": "Registered physicians",
    "简易程序": "Simple procedure",
    "一般程序": "General procedure",
    "照片合格": "Photos usable",
    "照片待处理": "Photos to resolve",
    "已退出": "Withdrawn",
    "尚无考核周期：请同步名单或导入名单文件。": "No cycle yet: pull the roster or import a roster file.",
    "我的监考场次": "My sessions",
    "试卷": "Paper",
    "考试时间": "Exam time",
    "考点": "Test site",
    "至": "to",
    "暂无指派的场次": "No session assigned to you yet",
    "考生 {n} 人": "{n} candidates",
    "尚未指派考生": "No candidates assigned yet",
}


@bp.get("/admin")
@staff_required
def dashboard() -> str:
    from examsvc.admin.queries import invigilator_sessions, roster_counts
    from examsvc.roster.queries import current_cycle

    cycle = current_cycle()
    user = current_user()
    mine = invigilator_sessions(user.id) if user and user.role == Role.INVIGILATOR else None
    return render_template(
        "admin/dashboard.html",
        cycle=cycle,
        counts=roster_counts(cycle) if cycle else None,
        my_sessions=mine,
    )


def init_app(app: Flask) -> None:
    register(EN)
    app.register_blueprint(bp)
