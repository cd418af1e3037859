"""Attempts: start, save answers, submit, sweep (flush only; the caller owns the transaction).

Races are settled by the database: ``attempts.open_slot`` is unique (one open attempt per
physician and paper) and ``(physician, paper, number)`` is unique (no attempt beyond the
limit); saves only overwrite a lower ``seq``; submitting is a conditional UPDATE that only
one caller can win.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from examsvc import uow
from examsvc.attempts import rules, sheets
from examsvc.attempts.models import Answer, Attempt, AttemptItem, PaperOverride, overdue
from examsvc.attempts.tallies import retally
from examsvc.audit.operations import record
from examsvc.enums import AttemptStatus, OverrideKind, PaperKind, SubmitReason, WindowRound
from examsvc.errors import Invalid, Refused
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.papers.models import ExamWindow, Paper
from examsvc.papers.operations import Blueprint, blueprint_of, draw
from examsvc.papers.queries import counting_papers
from examsvc.roster.models import Physician
from examsvc.roster.operations import check_allowance
from examsvc.roster.queries import (
    CANDIDATE_COLUMNS,
    CURRENT_CANDIDATE,
    Candidate,
    candidate_of,
    candidate_params,
)
from examsvc.signals import attempt_changed, verdict_may_change
from question_banks.types import QUESTION_TYPES

ENTRY_GATE = "attempts.entry_gate"
"""``app.extensions`` key: the camera feature's ``gate(physician, paper_id, now) -> Entry``."""


class EntryRecord(Protocol):
    """A passed entry face verification, as the camera feature's gate hands it (plain data:
    attempts knows no camera model)."""

    @property
    def id(self) -> int: ...

    @property
    def attempt_id(self) -> int | None: ...  # the attempt it opened (None: unused)

    def link(self, attempt_id: int) -> None:
        """It belongs to this attempt from now on (a statement: the caller's unit commits)."""


@dataclass(frozen=True)
class Entry:
    """What the camera feature found before an attempt, for this physician on this device
    (attempts knows no camera model): consent to face data in this cycle, a usable
    registration photo, and a passed entry verification or an administrator's override.
    ``step`` is the page of the first camera step still to do (None: none left)."""

    consented: bool = False
    photo_usable: bool = False
    check: EntryRecord | None = None  # fresh and unused, or linked to an open attempt
    override_id: int | None = None
    step: str | None = None

    def admits(self, attempt_id: int | None) -> bool:
        """May this device open the attempt (``None``: a new one)? Never without consent."""
        if not self.consented:
            return False
        if self.override_id is not None:
            return True
        return self.check is not None and self.check.attempt_id in (None, attempt_id)


# --- facts for the rules ----------------------------------------------------------------


def physician_facts(p: Physician | Candidate) -> rules.PhysicianFacts:
    return rules.PhysicianFacts(
        p.status,
        p.procedure,
        p.practice_category.value,
        p.physician_level.value,
        p.exempt_humanities,
        p.exempt_professional,
        p.eval_work_performance,
        p.eval_ethics,
    )


def window_facts(w: ExamWindow) -> rules.WindowFacts:
    return rules.WindowFacts(
        w.id, w.round, w.opens_at, w.closes_at, w.attempt_limit, w.physician_id is not None
    )


# The rules read a few columns of each table, in one statement each, built once (a start
# and every overview run them): never the ORM objects with their relationships.
_W = sa.orm.aliased(ExamWindow, name="w")
_WINDOW_COLUMNS = (
    _W.id.label("w_id"),
    _W.round.label("w_round"),
    _W.opens_at.label("w_opens_at"),
    _W.closes_at.label("w_closes_at"),
    _W.attempt_limit.label("w_limit"),
    _W.physician_id.label("w_physician_id"),
)


def _window_of(row: Any) -> rules.WindowFacts | None:
    """The window of a row read with ``_WINDOW_COLUMNS`` (None: no window joined)."""
    if row.w_id is None:
        return None
    return rules.WindowFacts(
        row.w_id,
        row.w_round,
        row.w_opens_at,
        row.w_closes_at,
        row.w_limit,
        row.w_physician_id is not None,
    )


_ATTEMPT_COLUMNS = (
    Attempt.id,
    Attempt.paper_id,
    ExamWindow.round,
    Attempt.status,
    Attempt.passed,
    Attempt.score,
    Attempt.number,
    Attempt.started_at,
    Paper.kind,
    Paper.cycle_id,
)
_WITH_WINDOW_AND_PAPER = sa.join(Attempt, ExamWindow, ExamWindow.id == Attempt.window_id).join(
    Paper, Paper.id == Attempt.paper_id
)
_ATTEMPT_ROWS = (
    sa.select(*_ATTEMPT_COLUMNS)
    .select_from(_WITH_WINDOW_AND_PAPER)
    .where(Attempt.physician_id == sa.bindparam("physician_id"))
)


class AttemptRow(NamedTuple):
    """An attempt as ``attempt_rows`` reads it."""

    id: int
    paper_id: int
    round: WindowRound
    status: AttemptStatus
    passed: bool | None
    score: float | None
    number: int
    started_at: datetime
    kind: PaperKind
    cycle_id: int


def attempt_rows(physician_id: int) -> list[Any]:
    """Every attempt of the physician, the columns the rules and a start read."""
    return list(db.session.execute(_ATTEMPT_ROWS, {"physician_id": physician_id}))


@dataclass(frozen=True)
class Starting:
    """What a start reads first, in one statement (``starting``): the session's physician,
    their attempts (``attempt_rows``; None: not read) and whether any override of theirs
    stands (if not, ``standing_overrides`` is not read)."""

    physician: Physician | Candidate
    attempts: list[AttemptRow] | None = None
    overridden: bool = True


def _starting(by_code: bool) -> sa.Select[Any]:
    standing = sa.exists().where(
        PaperOverride.physician_id == Physician.id, PaperOverride.revoked_at.is_(None)
    )
    # Outer joins one after the other, not to the joined three in parentheses: SQLite would
    # build that join of every physician's attempts first. An attempt's window and paper
    # are never missing (foreign keys, not null), so these are the attempts' inner joins.
    return (
        CURRENT_CANDIDATE[by_code]
        .add_columns(standing, *_ATTEMPT_COLUMNS)
        .outerjoin(Attempt, Attempt.physician_id == Physician.id)
        .outerjoin(ExamWindow, ExamWindow.id == Attempt.window_id)
        .outerjoin(Paper, Paper.id == Attempt.paper_id)
    )


# The session's physician (``roster.queries.CURRENT_CANDIDATE``), a row per attempt of
# theirs (one with none), built once.
_STARTING = {True: _starting(True), False: _starting(False)}


def starting(user_id: int, session_version: int) -> Starting | None:
    """``Starting`` of this session's (user id, session version) in one statement instead
    of four (the user, the physician, their attempts, their overrides); None when the
    session does not pass ``physician_required`` or has no registration in the current
    cycle (``roster.queries.CURRENT_CANDIDATE``'s rule): the caller lets those decide."""
    by_code, params = candidate_params(user_id, session_version)
    rows = db.session.execute(_STARTING[by_code], params).all()
    if not rows:
        return None
    n = CANDIDATE_COLUMNS
    return Starting(
        candidate_of(rows[0]),
        [AttemptRow(*row[n + 1 :]) for row in rows if row[n + 1] is not None],
        bool(rows[0][n]),
    )


def attempt_facts(physician_id: int, rows: list[Any] | None = None) -> list[rules.AttemptFacts]:
    return [
        rules.AttemptFacts(
            r.paper_id,
            r.round,
            r.status == AttemptStatus.IN_PROGRESS,
            r.passed,
            r.status == AttemptStatus.VOIDED,
            r.score,
            r.number,
        )
        for r in (attempt_rows(physician_id) if rows is None else rows)
    ]


_OVERRIDE_ROWS = (
    sa.select(PaperOverride.paper_id, PaperOverride.kind, PaperOverride.attempts)
    .add_columns(PaperOverride.minutes, *_WINDOW_COLUMNS)
    .outerjoin(_W, _W.id == PaperOverride.window_id)
    .where(
        PaperOverride.physician_id == sa.bindparam("physician_id"),
        PaperOverride.revoked_at.is_(None),
    )
    .order_by(PaperOverride.granted_at, PaperOverride.id)
)


def standing_overrides(physician_id: int) -> list[Any]:
    """The physician's overrides that stand (not revoked), oldest first: (paper_id, kind,
    attempts, minutes) and the personal window's columns (``_WINDOW_COLUMNS``)."""
    return list(db.session.execute(_OVERRIDE_ROWS, {"physician_id": physician_id}))


def override_facts(overrides: list[Any]) -> dict[int, rules.OverrideFacts]:
    """The standing overrides (``standing_overrides``) as the rules take them, by paper."""
    out: dict[int, rules.OverrideFacts] = {}
    for o in overrides:
        facts = out.get(o.paper_id, rules.NO_OVERRIDES)
        window = _window_of(o)
        if o.kind == OverrideKind.EXTRA_ATTEMPTS:
            facts = replace(facts, extra_attempts=facts.extra_attempts + (o.attempts or 0))
        elif o.kind == OverrideKind.WINDOW and window is not None:
            facts = replace(facts, windows=(*facts.windows, window))
        elif o.kind == OverrideKind.MAKEUP_AFTER_VOID:
            facts = replace(facts, makeup_after_void=True)
        out[o.paper_id] = facts
    return out


_PREREQUISITE = sa.orm.aliased(Paper, name="prerequisite")
_COUNTING = counting_papers(sa.bindparam("physician_id")).subquery("counting")
_PAPER_ROWS = (
    sa.select(
        Paper.id,
        Paper.kind,
        Paper.name,
        Paper.practice_categories,
        Paper.physician_levels,
        Paper.attempt_limit_simple,
        Paper.attempt_limit_general,
        Paper.prerequisite_id,
        _PREREQUISITE.kind.label("prerequisite_kind"),
        *_WINDOW_COLUMNS,
    )
    .outerjoin(_PREREQUISITE, _PREREQUISITE.id == Paper.prerequisite_id)
    .outerjoin(_W, sa.and_(_W.paper_id == Paper.id, _W.physician_id.is_(None)))
    .where(Paper.id.in_(sa.select(_COUNTING.c.paper_id)))
    .order_by(Paper.id, _W.opens_at)
)


def warm() -> None:
    """Before serving (``examsvc.warm``): a start's reads, and its tally's ``INSERT …
    SELECT`` (which selects no row), run once for a physician who does not exist, so that
    their statements are compiled and kept. The attempt's and its items' INSERTs would
    write rows: their first start still compiles them."""
    starting(0, -1)
    db.session.execute(_PAPER_ROWS, {"physician_id": 0}).all()
    retally(0, 0)


def chosen_papers(physician: Physician | Candidate) -> list[rules.PaperFacts]:
    """``papers.queries.papers_for`` as the rules take it, in one statement: per kind, the
    paper that counts (``papers.queries.counting_papers``), with its windows for everyone
    and its prerequisite met by their own paper of that kind."""
    rows = db.session.execute(_PAPER_ROWS, {"physician_id": physician.id}).all()
    papers: dict[int, Any] = {}
    windows: dict[int, list[rules.WindowFacts]] = {}
    for row in rows:
        papers.setdefault(row.id, row)
        window = _window_of(row)
        if window is not None:
            windows.setdefault(row.id, []).append(window)
    by_kind = {row.kind: row for row in papers.values()}
    chosen = [by_kind[kind] for kind in PaperKind if kind in by_kind]
    # "Humanities before professional": passing the physician's own paper of the
    # prerequisite's kind meets it, also after the agency assigned a new one.
    own = {p.kind: p.id for p in chosen}
    return [
        rules.PaperFacts(
            p.id,
            p.kind,
            p.name,
            tuple(p.practice_categories),
            tuple(p.physician_levels),
            p.attempt_limit_simple,
            p.attempt_limit_general,
            p.prerequisite_id
            if p.prerequisite_kind is None
            else own.get(p.prerequisite_kind, p.prerequisite_id),
            tuple(windows.get(p.id, ())),
        )
        for p in chosen
    ]


@dataclass
class Overview:
    states: list[rules.PaperState]
    verdict: rules.Verdict


def overview_of(
    facts: rules.PhysicianFacts,
    papers: list[rules.PaperFacts],
    attempts: list[rules.AttemptFacts],
    granted: dict[int, rules.OverrideFacts],
    now: datetime,
) -> Overview:
    """Each required paper's state and the verdict: the rules on plain facts."""
    passed = {a.paper_id for a in attempts if a.passed}
    states = [
        rules.paper_state(facts, p, attempts, passed, now, granted.get(p.id, rules.NO_OVERRIDES))
        for p in rules.required_papers(facts, papers)
    ]
    return Overview(states, rules.verdict(facts, states))


def overview(physician: Physician, now: datetime) -> Overview:
    rows = attempt_rows(physician.id)
    return overview_of(
        physician_facts(physician),
        chosen_papers(physician),
        attempt_facts(physician.id, rows),
        override_facts(standing_overrides(physician.id)),
        now,
    )


# --- starting ---------------------------------------------------------------------------


def state_of(physician: Physician, paper_id: int, now: datetime) -> rules.PaperState | None:
    """The state of one paper for this physician (None when the paper is not theirs to sit)."""
    return next((s for s in overview(physician, now).states if s.paper.id == paper_id), None)


def allowance_minutes(
    physician: Physician | Candidate, paper_id: int, overrides: list[Any] | None = None
) -> int:
    """The physician's extra time (延长时间) at this paper: an override for the paper that
    stands (the latest), else the physician's allowance for every paper. ``overrides``:
    the physician's ``standing_overrides`` when already read."""
    if overrides is None:
        overrides = standing_overrides(physician.id)
    minutes = None
    for o in overrides:  # oldest first: the last one found is the latest
        if o.paper_id == paper_id and o.kind == OverrideKind.EXTRA_TIME:
            minutes = o.minutes
    return physician.time_allowance_minutes if minutes is None else minutes


def full_minutes(
    physician: Physician | Candidate,
    paper: Paper | Blueprint,
    allowance_cap: int,
    overrides: list[Any] | None = None,
) -> int:
    """The paper's duration with the physician's extra time, never more extra time than the
    agency allows (``allowance_cap``: the setting MAX_ALLOWANCE_MINUTES)."""
    extra = min(allowance_minutes(physician, paper.id, overrides), allowance_cap)
    return paper.duration_minutes + extra


def time_available(
    physician: Physician | Candidate,
    paper: Paper | Blueprint,
    window: rules.WindowFacts,
    now: datetime,
    allowance_cap: int,
    overrides: list[Any] | None = None,
) -> timedelta:
    """The full time, cut short by the window's end."""
    full = timedelta(minutes=full_minutes(physician, paper, allowance_cap, overrides))
    return min(full, window.closes_at - now)


_ATTEMPTS = cast(sa.Table, Attempt.__table__)
# A new attempt's row in one statement built once (the ORM's unit of work for one object
# cost more than the INSERT); every column given, so the object needs no load.
_INSERT_ATTEMPT = sa.insert(_ATTEMPTS).returning(_ATTEMPTS.c.id)
_NEW_ATTEMPT: dict[str, Any] = {
    "submitted_at": None,
    "submit_reason": None,
    "void_reason": None,
    "last_seq": 0,
    "earned_points": None,
    "score": None,
    "passed": None,
}
_ITEMS = cast(sa.Table, AttemptItem.__table__)
_ITEM_COLUMNS = ("position", "question_id", "section_position", "points_per_item", "option_order")


_ATTEMPT_VALUES = [c for c in _ATTEMPTS.c if c.name != "id"]


def _item_rows(dialect: str) -> tuple[list[Any], Any]:
    """The items as one JSON parameter ``rows`` (a list of objects keyed by
    ``_ITEM_COLUMNS``), as a table for an ``INSERT … SELECT``: its columns in that order,
    and the table. Not a multi-row ``VALUES``: 54 items are 324 parameters, bound one by
    one and the statement's text built again at every start, and psycopg parses a
    statement of more than 50 parameters (or 4 KB) again at every execution instead of
    keeping it (~10 ms of a profiled start on PostgreSQL, ~0.15 ms unprofiled on SQLite).
    A ``None`` option order is stored as a JSON null, as the JSON type stores it (not SQL
    NULL)."""
    rows_param = sa.bindparam("rows", type_=sa.JSON)
    if dialect == "postgresql":
        rows = (
            sa.func.json_to_recordset(rows_param)
            .table_valued(*(sa.column(name, _ITEMS.c[name].type) for name in _ITEM_COLUMNS))
            .render_derived(name="item", with_types=True)
        )
        columns: list[Any] = [rows.c[name] for name in _ITEM_COLUMNS[:-1]]
        return [*columns, sa.func.coalesce(rows.c.option_order, sa.text("'null'::json"))], rows
    each = sa.func.json_each(rows_param).table_valued("value")
    columns = [sa.func.json_extract(each.c.value, f"$.{name}") for name in _ITEM_COLUMNS[:-1]]
    order = sa.func.json_extract(each.c.value, "$.option_order")
    return [*columns, sa.func.coalesce(order, sa.literal_column("'null'"))], each


def _insert_items_sqlite() -> Any:
    """SQLite: the items of the attempt ``attempt_id``, each item's (position, id) back."""
    columns, _ = _item_rows("sqlite")
    return (
        sa.insert(_ITEMS)
        .from_select(
            ["attempt_id", *_ITEM_COLUMNS],
            sa.select(sa.bindparam("attempt_id", type_=sa.Integer), *columns),
        )
        .returning(_ITEMS.c.position, _ITEMS.c.id)
    )


def _insert_attempt_and_items() -> Any:
    """PostgreSQL: the attempt's row and its items in one statement, the attempt's INSERT a
    data-modifying ``WITH`` whose id the items take; each item's (attempt id, position, id)
    back. One round trip and one statement fewer than ``_INSERT_ATTEMPT`` then the items.
    (PostgreSQL runs a ``WITH``'s INSERT once and to completion whether or not the main
    statement reads it: with no item the attempt would be stored and its id not returned,
    but a paper always draws at least one, ``SectionSpec.count`` ≥ 1.)"""
    attempt = (
        sa.insert(_ATTEMPTS)
        .values({c.name: sa.bindparam(f"a_{c.name}", type_=c.type) for c in _ATTEMPT_VALUES})
        .returning(_ATTEMPTS.c.id)
        .cte("new_attempt")
    )
    columns, rows = _item_rows("postgresql")
    return (
        sa.insert(_ITEMS)
        .from_select(
            ["attempt_id", *_ITEM_COLUMNS],
            sa.select(attempt.c.id, *columns).select_from(attempt).join(rows, sa.true()),
        )
        .returning(_ITEMS.c.attempt_id, _ITEMS.c.position, _ITEMS.c.id)
    )


# One INSERT of many rows (not the ORM's unit of work per item), each item's id back with
# its position (in any order: an attempt's positions are unique): the start's sheet is
# built from them and the draw, never read back. SQLite: the attempt, then its items;
# PostgreSQL: both in one statement.
_INSERT_ITEMS_SQLITE = _insert_items_sqlite()
_INSERT_ATTEMPT_AND_ITEMS = _insert_attempt_and_items()


def start_attempt(
    physician: Physician | Candidate | Starting,
    paper_id: int,
    *,
    now: datetime,
    rules_acknowledged: bool,
    entry: Entry | None,
    allowance_cap: int,
    seed: int | None = None,
) -> Attempt:
    """Open an attempt, or return the one already open (resuming: on another device only
    after its own entry verification). The gate before a new attempt, in the manuals'
    order: consent to face data, entry face verification against the registration photo
    (or an administrator's override), the exam rules. May raise IntegrityError under a
    race: the caller rolls back and calls again, and then finds the winner's attempt.

    The rules read three narrow statements (the physician's attempts, their papers with
    windows, their standing overrides) that also answer the open attempt, the attempts
    used and the extra time; given ``Starting`` (``starting``), the attempts come with the
    physician, and the overrides only when some stand. The draw reads one more
    (``papers.operations.blueprint_of``) and the questions not kept in the process yet.
    The new attempt's sheet is built from the draw (``sheets.started``)."""
    known = physician if isinstance(physician, Starting) else Starting(physician)
    physician = known.physician
    entry = entry or Entry()
    rows = attempt_rows(physician.id) if known.attempts is None else known.attempts
    open_id = next(
        (r.id for r in rows if r.paper_id == paper_id and r.status == AttemptStatus.IN_PROGRESS),
        None,
    )
    if open_id is not None:
        open_attempt = db.session.get(Attempt, open_id)
        assert open_attempt is not None
        if not entry.admits(open_attempt.id):
            raise _entry_refusal(entry)
        link_entry(entry, open_attempt)
        return open_attempt
    overrides = standing_overrides(physician.id) if known.overridden else []
    result = overview_of(
        physician_facts(physician),
        chosen_papers(physician),
        attempt_facts(physician.id, rows),
        override_facts(overrides),
        now,
    )
    state = next((s for s in result.states if s.paper.id == paper_id), None)
    if state is None:
        raise Refused("not_required", N_("您无需参加此试卷的测评"))
    if not state.can_start or state.window is None:
        raise Refused(state.code, state.reason or state.label)
    if not entry.admits(None):
        raise _entry_refusal(entry)
    if not rules_acknowledged:
        raise Refused(
            "rules_not_acknowledged", N_("请阅读考前须知并勾选“我已阅读并同意遵守上述规定”")
        )
    blueprint = blueprint_of(paper_id)
    assert blueprint is not None
    used = sum(1 for r in rows if r.paper_id == paper_id)
    seed = seed if seed is not None else secrets.randbelow(2**31)
    drawn, questions = draw(blueprint, seed)
    available = time_available(physician, blueprint, state.window, now, allowance_cap, overrides)
    row: dict[str, Any] = {
        "physician_id": physician.id,
        "paper_id": paper_id,
        "window_id": state.window.id,
        "number": used + 1,
        "status": AttemptStatus.IN_PROGRESS,
        "open_slot": f"{physician.id}:{paper_id}",
        "seed": seed,
        "started_at": now,
        "deadline_at": now + available,
        "total_points": sum(
            d.points_per_item * questions[d.question_id].scoring_items for d in drawn
        ),
    } | _NEW_ATTEMPT
    items = [
        {
            "position": i,
            "question_id": d.question_id,
            "section_position": d.section_position,
            "points_per_item": d.points_per_item,
            "option_order": d.option_order,
        }
        for i, d in enumerate(drawn, start=1)
    ]
    if db.session.get_bind().dialect.name == "postgresql":
        params = {f"a_{name}": value for name, value in row.items()} | {"rows": items}
        inserted = db.session.execute(_INSERT_ATTEMPT_AND_ITEMS, params).all()
        attempt_id = inserted[0].attempt_id
        item_ids = {position: item_id for _, position, item_id in inserted}
    else:
        attempt_id = db.session.execute(_INSERT_ATTEMPT, row).scalar_one()
        params = {"attempt_id": attempt_id, "rows": items}
        inserted = db.session.execute(_INSERT_ITEMS_SQLITE, params).all()
        item_ids = {position: item_id for position, item_id in inserted}
    attempt = Attempt(id=attempt_id, **row)
    # The row exists: the object joins the session as loaded, not as one to flush.
    sa.orm.make_transient_to_detached(attempt)
    db.session.add(attempt)
    sheet = sheets.build(
        [
            (item_ids[i], i, d.question_id, d.section_position, d.points_per_item, d.option_order)
            for i, d in enumerate(drawn, start=1)
        ],
        questions,
    )
    sheets.started(attempt.id, seed, now, sheet, blueprint.name)
    link_entry(entry, attempt)
    retally(physician.id, paper_id)
    attempt_changed.send(attempt.id)
    return attempt


def _entry_refusal(entry: Entry) -> Refused:
    if not entry.consented:
        return Refused("consent_required", N_("进入测评前须进行人脸信息采集授权"))
    if not entry.photo_usable:
        return Refused(
            "no_photo", N_("您的报名照片不能用于人脸验证，暂不能参加测评，请联系考核机构")
        )
    return Refused("entry_check_required", N_("请先完成人脸验证"))


def link_entry(entry: Entry, attempt: Attempt) -> None:
    """The verification that opened (or, on another device, resumed) the attempt belongs to
    it: the invigilators see it, and this device may come back to the attempt later."""
    if entry.check is not None and entry.check.attempt_id is None:
        entry.check.link(attempt.id)


# --- answers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRef:
    """An attempt as a save and a state fetch read it: a few columns in one narrow query
    (``api.my_attempt_ref``), not the ORM object with its relationships."""

    id: int
    status: AttemptStatus
    deadline_at: datetime
    seed: int
    started_at: datetime
    number: int
    last_seq: int
    paper: str  # the paper's name

    def overdue(self, now: datetime, grace: timedelta) -> bool:
        return bool(overdue(self.deadline_at, now, grace))


def sheet_of(attempt: Attempt | AttemptRef) -> sheets.Sheet:
    """The attempt's questions (``sheets``). An ``AttemptRef`` was read committed, so its
    sheet is kept at once; an ORM attempt may be the one this unit is starting, so its
    sheet is kept only once the unit has committed."""
    if isinstance(attempt, AttemptRef):
        return sheets.cached(attempt.id, attempt.seed, attempt.started_at)
    started = sheets.of_started(attempt.id, attempt.seed, attempt.started_at)
    if started is not None:  # started in this unit: its sheet came from its draw
        return started.sheet
    key = sheets.key(attempt.id, attempt.seed, attempt.started_at)
    store = sheets.caches().sheets
    sheet = store.get(key)
    if sheet is None:
        sheet = sheets.load(attempt.id)
        uow.after_commit(lambda: store.put(key, sheet))
    return sheet


@dataclass
class SaveResult:
    ok: bool
    code: str  # saved | late | stale | refused codes
    seq: int
    message: str = ""


_ANSWERS = cast(sa.Table, Answer.__table__)
# The latest save wins: insert the answer, or overwrite the stored one only when its seq is
# lower, in one statement (a first save racing another of the same question cannot fail on
# the unique constraint). The same SQL on SQLite (3.35+, for RETURNING) and PostgreSQL.
_SAVED = ("response", "marked", "seq", "saved_at", "late")


def _upsert(dialect: Any) -> Any:
    insert = dialect.insert(_ANSWERS).values(
        {
            _ANSWERS.c[name]: sa.bindparam(name, type_=_ANSWERS.c[name].type)
            for name in ("attempt_id", "item_id", *_SAVED)
        }
    )
    return insert.on_conflict_do_update(
        index_elements=[_ANSWERS.c.attempt_id, _ANSWERS.c.item_id],
        set_={name: insert.excluded[name] for name in _SAVED},
        where=_ANSWERS.c.seq < insert.excluded.seq,
    ).returning(_ANSWERS.c.seq)  # a row only when stored (rowcount differs by driver)


_UPSERTS = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}
_STORED_SEQ = sa.select(Answer.seq).where(
    Answer.attempt_id == sa.bindparam("attempt_id"), Answer.item_id == sa.bindparam("item_id")
)
_LAST_SEQ = (
    sa.update(cast(sa.Table, Attempt.__table__))
    .where(Attempt.id == sa.bindparam("attempt_id"), Attempt.last_seq < sa.bindparam("seq"))
    .values(last_seq=sa.bindparam("seq"))
)


def save_answer(
    attempt: Attempt | AttemptRef,
    position: int,
    response: Any,
    *,
    marked: bool,
    seq: int,
    now: datetime,
    journaled_at: datetime | None,
    grace: timedelta,
) -> SaveResult:
    """Save one answer if ``seq`` is newer than what is stored; idempotent for a repeated seq.
    Lean (the hot path of an exam): the question from the attempt's cached sheet, then one
    upsert and the attempt's ``last_seq``; ``stale`` reads the stored seq."""
    if seq < 1:
        raise Refused("bad_seq", N_("保存序号无效"))
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Refused("attempt_closed", N_("本次测评已交卷，答案不能再修改"))
    late = now > attempt.deadline_at
    if late:
        in_time = journaled_at is not None and journaled_at <= attempt.deadline_at
        if not in_time or attempt.overdue(now, grace):
            raise Refused("deadline_passed", N_("考试时间已到，答案不能再保存"))
    item = sheet_of(attempt).at(position)
    if item is None:
        raise Refused("no_such_question", N_("没有这道题"))
    problem = QUESTION_TYPES[item.qtype].validate_response(item.data, response)
    if problem:
        raise Refused("bad_response", problem)
    ids = {"attempt_id": attempt.id, "item_id": item.id}
    values = {"response": response, "marked": marked, "seq": seq, "saved_at": now, "late": late}
    upsert = _UPSERTS[db.session.get_bind().dialect.name]
    stored = db.session.execute(upsert, ids | values).first()
    sheets.answered(attempt.id)  # stored or not: a view of this unit reads the answers
    if stored is None:  # an equal or newer save is already stored
        exists = db.session.scalar(_STORED_SEQ, ids)
        return SaveResult(True, "stale", seq if exists is None else exists)
    db.session.execute(_LAST_SEQ, {"attempt_id": attempt.id, "seq": seq})
    return SaveResult(True, "late" if late else "saved", seq)


# --- submitting and grading -------------------------------------------------------------


def grade(attempt: Attempt) -> None:
    answers = {
        a.item_id: a.response
        for a in db.session.scalars(sa.select(Answer).where(Answer.attempt_id == attempt.id))
    }
    earned = 0.0
    for item in attempt.items:
        correct = QUESTION_TYPES[item.question.qtype].grade(
            item.question.data, answers.get(item.id)
        )
        item.earned_points = item.points_per_item * sum(correct)
        earned += item.earned_points
    attempt.earned_points = earned
    attempt.score = round(earned / attempt.total_points * 100, 1) if attempt.total_points else 0.0
    attempt.passed = attempt.score >= attempt.paper.pass_mark


def submit_attempt(attempt_id: int, *, now: datetime, reason: SubmitReason) -> Attempt:
    """Close and grade the attempt once; later calls return it unchanged."""
    claimed = db.session.execute(
        sa.update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status == AttemptStatus.IN_PROGRESS)
        .values(
            status=AttemptStatus.SUBMITTED, open_slot=None, submitted_at=now, submit_reason=reason
        )
    )
    attempt = db.session.get(Attempt, attempt_id, populate_existing=True)
    assert attempt is not None
    if getattr(claimed, "rowcount", 0):
        grade(attempt)
        record(
            "attempt.submit",
            "attempt",
            attempt.id,
            actor_id=attempt.physician.user_id if reason == SubmitReason.CANDIDATE else None,
            now=now,
            reason=reason.value,
            paper=attempt.paper.code,
            score=attempt.score,
        )
        db.session.flush()
        retally(attempt.physician_id, attempt.paper_id)
        attempt_changed.send(attempt.id)
        verdict_may_change.send(attempt.physician_id, now=now)
    return attempt


def due_attempts(now: datetime, grace: timedelta) -> list[int]:
    """Open attempts whose deadline (plus the late-save grace) has passed."""
    return list(
        db.session.scalars(
            sa.select(Attempt.id).where(
                Attempt.status == AttemptStatus.IN_PROGRESS, Attempt.overdue(now, grace)
            )
        )
    )


def void_attempt(attempt_id: int, *, now: datetime, reason: str) -> Attempt:
    """End an attempt for a violation (invigilators); it counts as used and is not graded."""
    claimed = db.session.execute(
        sa.update(Attempt)
        .where(Attempt.id == attempt_id, Attempt.status == AttemptStatus.IN_PROGRESS)
        .values(
            status=AttemptStatus.VOIDED,
            open_slot=None,
            submitted_at=now,
            submit_reason=SubmitReason.INVIGILATOR,
            void_reason=reason[:300],
            passed=False,
        )
    )
    attempt = db.session.get(Attempt, attempt_id, populate_existing=True)
    assert attempt is not None
    if getattr(claimed, "rowcount", 0):
        retally(attempt.physician_id, attempt.paper_id)
        verdict_may_change.send(attempt.physician_id, now=now)
    return attempt


# --- what the candidate's page gets (never a key) ---------------------------------------


_ANSWER_ROWS = sa.select(Answer.item_id, Answer.response, Answer.marked, Answer.seq).where(
    Answer.attempt_id == sa.bindparam("attempt_id")
)


def attempt_view(attempt: Attempt | AttemptRef, now: datetime) -> dict[str, Any]:
    """What the candidate's page gets: the questions from the attempt's cached sheet, the
    answers read now. A closed attempt's result needs the whole attempt (read for it)."""
    if isinstance(attempt, AttemptRef) and attempt.status != AttemptStatus.IN_PROGRESS:
        full = db.session.get(Attempt, attempt.id)
        assert full is not None
        attempt = full
    started = (
        sheets.of_started(attempt.id, attempt.seed, attempt.started_at)
        if isinstance(attempt, Attempt)
        else None
    )
    answers = (
        {}  # started in this unit, nothing stored since: no answers to read
        if started is not None and not started.answered
        else {
            row.item_id: row for row in db.session.execute(_ANSWER_ROWS, {"attempt_id": attempt.id})
        }
    )
    items = []
    for item in (started.sheet if started is not None else sheet_of(attempt)).items:
        answer = answers.get(item.id)
        items.append(
            {
                **item.view,
                "response": answer.response if answer else None,
                "marked": answer.marked if answer else False,
                "seq": answer.seq if answer else 0,
            }
        )
    body: dict[str, Any] = {
        "id": attempt.id,
        "paper": started.paper
        if started is not None
        else (attempt.paper if isinstance(attempt, AttemptRef) else attempt.paper.name),
        "status": attempt.status.value,
        "number": attempt.number,
        "server_time": now.isoformat(),
        "deadline": attempt.deadline_at.isoformat(),
        "remaining_seconds": max(0, int((attempt.deadline_at - now).total_seconds())),
        "last_seq": attempt.last_seq,
        "items": items,
    }
    if isinstance(attempt, Attempt) and attempt.status != AttemptStatus.IN_PROGRESS:
        body["can_retry"] = can_retry(attempt, now)
        body["result"] = result_view(attempt, body["can_retry"])
    return body


def can_retry(attempt: Attempt, now: datetime) -> bool:
    """May the physician start this attempt's paper again now (another attempt left, window open)?"""
    state = state_of(attempt.physician, attempt.paper_id, now)
    return bool(state and state.can_start)


def result_view(attempt: Attempt, retry: bool) -> dict[str, Any]:
    if attempt.status == AttemptStatus.VOIDED:
        return {"passed": False, "score": None, "message": N_("本次测评因违纪被终止")}
    if attempt.passed:
        message = N_("交卷成功，合格")
    elif retry:
        message = N_("交卷成功，您本次未达到分数线，您可以继续参加测评")
    else:
        message = N_("交卷成功，您本次未达到分数线")
    return {
        "passed": attempt.passed,
        "score": attempt.score,
        "pass_mark": attempt.paper.pass_mark,
        "message": message,
        "submitted_at": attempt.submitted_at.isoformat() if attempt.submitted_at else None,
    }


# --- an administrator's overrides for one physician (个人特殊安排) ---------------------------


def grant_override(
    physician: Physician,
    paper: Paper,
    kind: OverrideKind,
    *,
    reason: str,
    actor_id: int | None,
    now: datetime,
    allowance_cap: int,
    attempts: int | None = None,
    minutes: int | None = None,
    window: tuple[WindowRound, datetime, datetime] | None = None,
) -> PaperOverride:
    """Record an administrator's decision for one physician and one paper, with its reason,
    and audit it. A personal window is an ``ExamWindow`` of this physician alone."""
    if paper.cycle_id != physician.cycle_id:
        raise Refused("other_cycle", N_("该试卷不属于考生的考核周期"))
    personal = None
    if kind == OverrideKind.EXTRA_TIME:
        assert minutes is not None
        check_allowance(minutes, allowance_cap)
    elif kind == OverrideKind.WINDOW:
        assert window is not None
        round_, opens_at, closes_at = window
        if closes_at <= opens_at:
            raise Invalid(
                "window_times",
                N_("结束时间须晚于开始时间"),
                [{"field": "closes_at", "message": N_("须晚于开始时间")}],
            )
        personal = ExamWindow(
            paper_id=paper.id,
            round=round_,
            opens_at=opens_at,
            closes_at=closes_at,
            physician_id=physician.id,
        )
        db.session.add(personal)
        db.session.flush()
    elif kind == OverrideKind.MAKEUP_AFTER_VOID:
        facts = [a for a in attempt_facts(physician.id) if a.paper_id == paper.id]
        if not rules.regular_voided(facts):
            raise Refused("not_voided", N_("该考生此试卷的测评未被违纪终止，无需准许补考"))
    override = PaperOverride(
        physician_id=physician.id,
        paper_id=paper.id,
        kind=kind,
        attempts=attempts if kind == OverrideKind.EXTRA_ATTEMPTS else None,
        minutes=minutes if kind == OverrideKind.EXTRA_TIME else None,
        window_id=personal.id if personal is not None else None,
        reason=reason,
        granted_by=actor_id,
        granted_at=now,
    )
    db.session.add(override)
    db.session.flush()
    detail: dict[str, Any] = {"paper": paper.code, "kind": kind.value, "reason": reason}
    if override.attempts is not None:
        detail["attempts"] = override.attempts
    if override.minutes is not None:
        detail["minutes"] = override.minutes
    if personal is not None:
        detail |= {
            "round": personal.round.value,
            "opens_at": personal.opens_at.isoformat(),
            "closes_at": personal.closes_at.isoformat(),
        }
    record("override.grant", "physician", physician.id, actor_id=actor_id, now=now, **detail)
    verdict_may_change.send(physician.id, now=now)  # a fail may reopen, a result change
    return override


def revoke_override(override: PaperOverride, *, actor_id: int | None, now: datetime) -> None:
    """Withdraw a decision from now on (attempts made under it stay); the row is kept."""
    if override.revoked_at is not None:
        raise Refused("already_revoked", N_("该安排已撤销"))
    override.revoked_at, override.revoked_by = now, actor_id
    db.session.flush()
    record(
        "override.revoke",
        "physician",
        override.physician_id,
        actor_id=actor_id,
        now=now,
        paper=override.paper.code,
        kind=override.kind.value,
    )
    verdict_may_change.send(override.physician_id, now=now)
