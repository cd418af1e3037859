"""The progress and statistics pages, their drill-downs and the XLSX export (administrators
and the health authority's viewers, read-only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for

from examsvc import offload
from examsvc.accounts.auth import roles_required
from examsvc.accounts.ids import mask
from examsvc.attempts.rules import COUNTED_LABELS
from examsvc.clock import beijing_time, now
from examsvc.enums import Role
from examsvc.roster.models import Cycle
from examsvc.roster.queries import current_cycle
from examsvc.statistics import queries
from examsvc.statistics.export import Table, workbook
from examsvc.statistics.queries import (
    BUCKETS,
    LABELS,
    NOTES,
    PROCTORING,
    PROGRESS,
    RESULTS,
    STATE_ORDER,
    Drill,
    Figures,
)
from examsvc.statistics.schemas import DrillForm, StatisticsFilter
from examsvc.web.errors import form_model
from examsvc.web.i18n import gettext as _

bp = Blueprint("statistics", __name__)
readers = roles_required(Role.ADMIN, Role.VIEWER)
PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BANDS = [f"{10 * b}–{10 * b + 9}" if b < BUCKETS - 1 else f"{10 * b}–100" for b in range(BUCKETS)]
CATEGORIES = {"clinical": "临床", "dental": "口腔", "public_health": "公共卫生", "tcm": "中医"}
LEVELS = {"physician": "执业医师", "assistant": "执业助理医师"}
PROCEDURES = {"simple": "简易程序", "general": "一般程序"}


def _options(cycle: Cycle, f: StatisticsFilter) -> dict[str, Any]:
    """What the filter form offers: the cycle's institutions, the chosen one's departments,
    the cycle's papers."""
    return {
        "institutions": queries.institutions(cycle.id),
        "departments": queries.departments(cycle.id, f.institution) if f.institution else [],
        "papers": queries.papers(cycle.id),
    }


def _page(template: str) -> str:
    cycle = current_cycle()
    f = form_model(StatisticsFilter, request.args)
    if cycle is None:
        return render_template(template, cycle=None, f=f)
    data = queries.figures(cycle.id, f, now())
    return render_template(
        template,
        cycle=cycle,
        f=f,
        data=data,
        labels=LABELS,
        notes=NOTES,
        state_labels=COUNTED_LABELS,
        state_order=[s for s in STATE_ORDER if any(s in p.states for p in data.papers)],
        bands=BANDS,
        progress_keys=PROGRESS,
        proctoring_keys=PROCTORING,
        result_keys=RESULTS,
        drill=lambda **kw: url_for("statistics.people", **(f.args() | kw)),
        **_options(cycle, f),
    )


@bp.get("/admin/progress")
@readers
def progress() -> str:
    return _page("statistics/progress.html")


@bp.get("/admin/statistics")
@readers
def statistics() -> str:
    return _page("statistics/statistics.html")


@bp.get("/admin/statistics/people")
@readers
def people() -> str:
    cycle = current_cycle()
    form = form_model(DrillForm, request.args)
    f = StatisticsFilter(**form.model_dump(include=set(StatisticsFilter.model_fields)))
    if form.figure is not None:
        if form.figure not in LABELS:
            abort(404)
        drill, title = Drill(figure=form.figure), _(LABELS[form.figure])
    elif form.paper is not None and (form.state in STATE_ORDER or form.band is not None):
        drill = Drill(paper=form.paper, state=form.state, band=form.band)
        title = (
            _(COUNTED_LABELS[form.state])
            if form.state
            else _("{band} 分", band=BANDS[form.band or 0])
        )
    else:
        abort(404)
    total, rows = (
        queries.people(cycle.id, f, drill, now(), page=form.page, size=PAGE) if cycle else (0, [])
    )
    paper = (
        next((p for p in queries.papers(cycle.id) if p.id == form.paper), None) if cycle else None
    )
    return render_template(
        "statistics/people.html",
        cycle=cycle,
        f=f,
        form=form,
        title=title,
        paper=paper,
        total=total,
        rows=[
            {
                "id": p.id,
                "registration_id": p.registration_id,
                "name": p.name,
                "masked_id": mask(p.id_number),
                "institution": p.institution_name,
                "department": p.department,
                "category": p.practice_category.value,
                "level": p.physician_level.value,
                "procedure": p.procedure.value,
            }
            for p in rows
        ],
        page=form.page,
        pages=max(1, -(-total // PAGE)),
        link_args=f.args()
        | {
            k: v
            for k, v in (("figure", form.figure), ("state", form.state), ("band", form.band))
            if v is not None
        },
    )


def _filter_rows(cycle: Cycle, f: StatisticsFilter) -> list[list[Any]]:
    options = _options(cycle, f)
    institutions = dict(options["institutions"])
    papers = {p.id: p.name for p in options["papers"]}
    rows = [[_("考核周期"), f"{cycle.name}（{cycle.code}）"]]
    for label, value in (
        (_("机构"), institutions.get(f.institution or "", f.institution)),
        (_("科室"), f.department),
        (_("执业类别"), _(CATEGORIES[f.category.value]) if f.category else None),
        (_("执业级别"), _(LEVELS[f.level.value]) if f.level else None),
        (_("考核程序"), _(PROCEDURES[f.procedure.value]) if f.procedure else None),
        (_("试卷"), papers.get(f.paper or 0)),
    ):
        rows.append([label, value or _("全部")])
    rows.append([_("统计时间"), beijing_time(now())])
    return rows


def _tables(view: str, cycle: Cycle, f: StatisticsFilter, data: Figures) -> list[Table]:
    """The view's tables as plain rows, in the page's words."""
    tables: list[Table] = [(_("筛选条件"), [_("项目"), _("内容")], _filter_rows(cycle, f))]
    figure = [_("统计项"), _("人数"), _("说明")]
    if view == "progress":
        keys = (*PROGRESS, *PROCTORING)
        tables.append(
            (_("考试进度"), figure, [[_(LABELS[k]), data.counts[k], _(NOTES[k])] for k in keys])
        )
        order = [s for s in STATE_ORDER if any(s in p.states for p in data.papers)]
        tables.append(
            (
                _("试卷状态"),
                [_("试卷"), *(_(COUNTED_LABELS[s]) for s in order), _("合计")],
                [[p.name, *(p.states.get(s, 0) for s in order), p.total] for p in data.papers],
            )
        )
    else:
        rows = [[_(LABELS[k]), data.counts[k], _(NOTES[k])] for k in RESULTS]
        rate = data.pass_rate
        rows.append([_("合格率"), None if rate is None else round(100 * rate, 1), "%"])
        tables.append((_("考核统计"), figure, rows))
        tables.append(
            (
                _("各试卷合格率"),
                [_("试卷"), _("合格"), _("不合格"), _("违纪终止"), _("合格率（%）")],
                [
                    [
                        p.name,
                        p.states.get("passed", 0),
                        p.states.get("failed", 0),
                        p.states.get("voided", 0),
                        None if p.pass_rate is None else round(100 * p.pass_rate, 1),
                    ]
                    for p in data.papers
                ],
            )
        )
        tables.append(
            (
                _("分数分布"),
                [_("分数段"), *(p.name for p in data.papers)],
                [[band, *(p.scores[i] for p in data.papers)] for i, band in enumerate(BANDS)],
            )
        )
    return tables


@bp.get("/admin/<any(progress, statistics):view>/export.xlsx")
@readers
def export(view: str) -> Response:
    cycle = current_cycle()
    if cycle is None:
        abort(404)
    f = form_model(StatisticsFilter, request.args)
    data = queries.figures(cycle.id, f, now())
    return Response(
        offload.process_call(workbook, _tables(view, cycle, f, data)),
        mimetype=XLSX,
        headers={"Content-Disposition": f"attachment; filename={cycle.code}-{view}.xlsx"},
    )
