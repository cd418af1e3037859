"""The manuals' rules for sitting papers, as plain functions on plain data (``now`` passed in).

Which papers a physician must sit, what state each is in (the home page's words), whether
one may be started, and the cycle's verdict. An administrator's decisions for one physician
(个人特殊安排: more attempts, a personal window, makeup after a void) come in as facts too
(``OverrideFacts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from examsvc.enums import Evaluation, PaperKind, Procedure, RegistrationStatus, WindowRound
from examsvc.marks import N_, Text

CLOSED_LABEL = N_("考试已结束")  # the paper's window closed and it was never sat: 缺考

# What each paper state is called on the agency's pages (the candidate's page shows a
# button where the agency needs a state: "进入测评" becomes "可以测评").
AGENCY_LABELS = {
    "exempt": N_("免考通过"),
    "passed": N_("合格"),
    "in_progress": N_("测评进行中"),
    "open": N_("可以测评"),
    "waiting": N_("等待考试开始"),
    "locked": N_("等待医学人文测评合格"),
    "failed": N_("不合格"),
    "makeup_waiting": N_("不合格-等待补考"),
}

# The finer states the agency counts (``attempts.queries.paper_states``), in the same words.
COUNTED_LABELS = AGENCY_LABELS | {
    "not_started": N_("未开始"),
    "makeup_open": N_("可以补考"),
    "absent": N_("缺考"),
    "voided": N_("违纪终止"),
    "withdrawn": N_("已退出"),
}


@dataclass(frozen=True)
class WindowFacts:
    id: int
    round: WindowRound
    opens_at: datetime
    closes_at: datetime
    attempt_limit: int | None = None  # a makeup window's own limit (None: the paper's)
    personal: bool = False  # a window for this physician alone (个人考试时间)


@dataclass(frozen=True)
class PaperFacts:
    id: int
    kind: PaperKind
    name: str
    practice_categories: tuple[str, ...]
    physician_levels: tuple[str, ...]
    attempt_limit_simple: int
    attempt_limit_general: int
    prerequisite_id: int | None
    windows: tuple[WindowFacts, ...]

    def limit(self, procedure: Procedure) -> int:
        return (
            self.attempt_limit_simple
            if procedure == Procedure.SIMPLE
            else self.attempt_limit_general
        )


@dataclass(frozen=True)
class PhysicianFacts:
    status: RegistrationStatus
    procedure: Procedure
    practice_category: str
    physician_level: str
    exempt_humanities: bool
    exempt_professional: bool
    eval_work_performance: Evaluation
    eval_ethics: Evaluation


@dataclass(frozen=True)
class AttemptFacts:
    paper_id: int
    window_round: WindowRound
    in_progress: bool
    passed: bool | None  # None while in progress
    voided: bool = False
    score: float | None = None
    number: int = 0  # the attempt's order at its paper (1 for the first)


@dataclass(frozen=True)
class OverrideFacts:
    """What the agency decided for this physician and one paper, the revoked left out."""

    extra_attempts: int = 0  # more attempts, over both rounds together
    windows: tuple[WindowFacts, ...] = ()  # personal windows (regular or makeup)
    makeup_after_void: bool = False  # admitted to makeup although the regular round was voided


NO_OVERRIDES = OverrideFacts()


@dataclass
class PaperState:
    paper: PaperFacts
    code: str  # exempt | passed | in_progress | open | waiting | locked | failed | makeup_waiting | closed
    label: str  # the manuals' words, as the home page shows them (an action while one is open)
    remaining: int
    window: WindowFacts | None = None
    reason: str | None = None
    best_score: float | None = None
    voided: bool = False  # failed: the regular round ended in 违纪终止, no makeup granted

    @property
    def can_start(self) -> bool:
        return self.code in ("open", "in_progress")

    @property
    def status(self) -> str:
        """The paper's state as a result, in the manuals' words: never an action such as
        进入测评 (a results list or a roster column, where ``label`` would be a button)."""
        if self.code == "open":
            if self.window is not None and self.window.round == WindowRound.MAKEUP:
                return N_("不合格-可参加补考")
            return N_("待考") if self.best_score is None else N_("未达到分数线-可继续测评")
        if self.code == "closed" and self.label == CLOSED_LABEL:
            return N_("缺考")
        return self.label

    @property
    def agency_label(self) -> str:
        """The paper's state on the agency's pages (the roster): a state where the
        physician's page offers an action."""
        if (
            self.code == "open"
            and self.window is not None
            and self.window.round == WindowRound.MAKEUP
        ):
            return N_("可以补考")
        return AGENCY_LABELS.get(self.code, self.label)


def checks_in(state: PaperState, now: datetime, minutes: int) -> bool:
    """候考: in the ``minutes`` before its window opens, a paper waiting for it may be entered
    (device check, consent, face verification, 考前须知) so that the candidate starts at the
    opening with nothing left to do; the start itself still waits for the opening."""
    return (
        minutes > 0
        and state.code in ("waiting", "makeup_waiting")
        and state.window is not None
        and state.window.opens_at - timedelta(minutes=minutes) <= now < state.window.opens_at
    )


def serves(paper: PaperFacts, physician: PhysicianFacts) -> bool:
    return (
        not paper.practice_categories or physician.practice_category in paper.practice_categories
    ) and (not paper.physician_levels or physician.physician_level in paper.physician_levels)


def required_papers(physician: PhysicianFacts, papers: list[PaperFacts]) -> list[PaperFacts]:
    """Simple procedure: the humanities paper; general: humanities, then the professional paper
    of the physician's category and level."""
    kinds = (
        [PaperKind.HUMANITIES]
        if physician.procedure == Procedure.SIMPLE
        else [PaperKind.HUMANITIES, PaperKind.PROFESSIONAL]
    )
    out = []
    for kind in kinds:
        match = next((p for p in papers if p.kind == kind and serves(p, physician)), None)
        if match is not None:
            out.append(match)
    return out


def is_exempt(physician: PhysicianFacts, paper: PaperFacts) -> bool:
    """Simple procedure exempts only the humanities paper; general, only the professional one."""
    if physician.procedure == Procedure.SIMPLE:
        return paper.kind == PaperKind.HUMANITIES and physician.exempt_humanities
    return paper.kind == PaperKind.PROFESSIONAL and physician.exempt_professional


def _window(
    paper: PaperFacts, round: WindowRound, now: datetime
) -> tuple[WindowFacts | None, WindowFacts | None]:
    """The window of this round open now, and the next one to open."""
    current = next(
        (w for w in paper.windows if w.round == round and w.opens_at <= now < w.closes_at), None
    )
    upcoming = sorted(
        (w for w in paper.windows if w.round == round and w.opens_at > now),
        key=lambda w: w.opens_at,
    )
    return current, (upcoming[0] if upcoming else None)


def regular_voided(attempts: list[AttemptFacts]) -> bool:
    """The regular round ended in 违纪终止: its last attempt was voided."""
    regular = [a for a in attempts if a.window_round == WindowRound.REGULAR]
    return bool(regular) and max(regular, key=lambda a: a.number).voided


def makeup_left(window: WindowFacts, limit: int, extra: int, used: int, makeup_used: int) -> int:
    """Attempts left in a makeup window: its own limit (else the paper's), plus the extra
    attempts the regular round did not use, less the makeup attempts made."""
    return (window.attempt_limit or limit) + extra - max(0, used - limit) - makeup_used


def paper_state(
    physician: PhysicianFacts,
    paper: PaperFacts,
    attempts: list[AttemptFacts],
    passed_papers: set[int],
    now: datetime,
    overrides: OverrideFacts = NO_OVERRIDES,
) -> PaperState:
    mine = [a for a in attempts if a.paper_id == paper.id]
    scores = [a.score for a in mine if a.score is not None]
    best = max(scores) if scores else None
    regular = [a for a in mine if a.window_round == WindowRound.REGULAR]
    makeup = [a for a in mine if a.window_round == WindowRound.MAKEUP]
    base_limit = paper.limit(physician.procedure)
    limit = base_limit + overrides.extra_attempts
    if overrides.windows:  # personal windows count as the paper's, for this physician
        paper = replace(paper, windows=paper.windows + overrides.windows)
    if is_exempt(physician, paper):
        return PaperState(paper, "exempt", N_("免考通过"), 0)
    if any(a.passed for a in mine):
        return PaperState(paper, "passed", N_("合格"), 0, best_score=best)
    if physician.status != RegistrationStatus.APPROVED:
        return PaperState(
            paper, "closed", N_("已退出本周期考核"), 0, reason=N_("已退出本周期考核，不能参加测评")
        )
    open_attempt = next((a for a in mine if a.in_progress), None)
    if open_attempt is not None:
        window = _window(paper, open_attempt.window_round, now)[0]
        return PaperState(paper, "in_progress", N_("测评进行中"), 0, window, best_score=best)
    if paper.prerequisite_id is not None and paper.prerequisite_id not in passed_papers:
        return PaperState(
            paper,
            "locked",
            N_("需先通过医学人文测评"),
            limit,
            None,
            reason=N_("医学人文测评试卷合格后才可以进行业务水平测评"),
        )
    current, upcoming = _window(paper, WindowRound.REGULAR, now)
    used = len(regular)
    failed_regular = used >= limit or (used > 0 and current is None and upcoming is None)
    if not failed_regular:
        if current is not None:
            return PaperState(paper, "open", N_("进入测评"), limit - used, current, best_score=best)
        if upcoming is not None:
            return PaperState(
                paper, "waiting", N_("等待考试开始"), limit - used, upcoming, best_score=best
            )
        if used == 0 and not any(w.round == WindowRound.MAKEUP for w in paper.windows):
            return PaperState(paper, "closed", CLOSED_LABEL, 0, reason=N_("测评时间已结束"))
    # Regular round over without a pass (attempts used up, or the window closed): makeup,
    # unless it ended in 违纪终止 and the agency did not admit the physician all the same.
    if regular_voided(mine) and not overrides.makeup_after_void:
        return PaperState(
            paper,
            "failed",
            N_("不合格"),
            0,
            reason=N_("违纪终止，不能参加补考"),
            best_score=best,
            voided=True,
        )

    def left(w: WindowFacts) -> int:
        return makeup_left(w, base_limit, overrides.extra_attempts, used, len(makeup))

    makeup_windows = [
        w for w in paper.windows if w.round == WindowRound.MAKEUP and w.closes_at > now
    ]
    m_current = next((w for w in makeup_windows if w.opens_at <= now and left(w) > 0), None)
    if m_current is not None:
        return PaperState(
            paper, "open", N_("进入测评（补考）"), left(m_current), m_current, best_score=best
        )
    m_upcoming = min(
        (w for w in makeup_windows if w.opens_at > now and left(w) > 0),
        key=lambda w: w.opens_at,
        default=None,
    )
    if m_upcoming is not None:
        return PaperState(
            paper,
            "makeup_waiting",
            N_("不合格-等待补考"),
            left(m_upcoming),
            m_upcoming,
            best_score=best,
        )
    return PaperState(paper, "failed", N_("不合格"), 0, best_score=best)


@dataclass
class Verdict:
    result: str  # pass | fail | pending
    label: str
    reasons: list[str] = field(default_factory=list)


def verdict(physician: PhysicianFacts, states: list[PaperState]) -> Verdict:
    """Pass only if both evaluations pass and every required paper is passed or exempt."""
    reasons = []
    for name, value in (
        (Text(N_("工作成绩")), physician.eval_work_performance),
        (Text(N_("职业道德")), physician.eval_ethics),
    ):
        if value == Evaluation.FAIL:
            reasons.append(N_("{name}评定不合格", name=name))
    for state in states:
        if state.code == "failed" and state.voided:
            reasons.append(N_("{paper}违纪终止", paper=state.paper.name))
        elif state.code == "failed":
            reasons.append(N_("{paper}不合格", paper=state.paper.name))
        elif state.code == "closed" and physician.status == RegistrationStatus.APPROVED:
            reasons.append(N_("{paper}缺考", paper=state.paper.name))
    if reasons:
        return Verdict("fail", N_("不合格"), reasons)
    if any(s.code == "makeup_waiting" for s in states):
        return Verdict("pending", N_("不合格-等待补考"))
    undecided = Evaluation.PENDING in (physician.eval_work_performance, physician.eval_ethics)
    # A kind the procedure requires with no paper to sit yet (none assigned): not a pass.
    needed = {PaperKind.HUMANITIES} | (
        {PaperKind.PROFESSIONAL} if physician.procedure == Procedure.GENERAL else set()
    )
    missing = not needed <= {s.paper.kind for s in states}
    if undecided or missing or any(s.code not in ("passed", "exempt") for s in states):
        return Verdict("pending", N_("报名完成-等待测评"))
    return Verdict("pass", N_("合格"))
