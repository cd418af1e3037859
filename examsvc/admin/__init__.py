"""The agency's back office: the staff landing page."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from examsvc.accounts.auth import staff_required
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
}


@bp.get("/admin")
@staff_required
def dashboard() -> str:
    from examsvc.admin.queries import roster_counts
    from examsvc.roster.queries import current_cycle

    cycle = current_cycle()
    return render_template(
        "admin/dashboard.html", cycle=cycle, counts=roster_counts(cycle) if cycle else None
    )


def init_app(app: Flask) -> None:
    register(EN)
    app.register_blueprint(bp)
