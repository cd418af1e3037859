"""The manuals' rules, tested as plain functions with time passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from examsvc.attempts import rules
from examsvc.attempts.rules import AttemptFacts, PaperFacts, PhysicianFacts, WindowFacts
from examsvc.enums import Evaluation, PaperKind, Procedure, RegistrationStatus, WindowRound

NOW = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)
REGULAR = WindowFacts(1, WindowRound.REGULAR, NOW - timedelta(days=1), NOW + timedelta(days=9))
MAKEUP = WindowFacts(2, WindowRound.MAKEUP, NOW + timedelta(days=20), NOW + timedelta(days=25))
HUM = PaperFacts(
    1, PaperKind.HUMANITIES, "医学人文测评试卷", (), (), 20, 1, None, (REGULAR, MAKEUP)
)
PRO = PaperFacts(
    2,
    PaperKind.PROFESSIONAL,
    "业务水平临床测评试卷",
    ("clinical",),
    (),
    1,
    1,
    1,
    (replace(REGULAR, id=3), replace(MAKEUP, id=4)),
)
PRO_DENTAL = replace(PRO, id=5, practice_categories=("dental",), name="业务水平口腔测评试卷")
DOCTOR = PhysicianFacts(
    RegistrationStatus.APPROVED,
    Procedure.GENERAL,
    "clinical",
    "physician",
    False,
    False,
    Evaluation.PASS,
    Evaluation.PASS,
)
SIMPLE = replace(DOCTOR, procedure=Procedure.SIMPLE)


def attempt(
    paper: PaperFacts,
    passed: bool | None,
    round: WindowRound = WindowRound.REGULAR,
    score: float = 50,
):
    return AttemptFacts(
        paper.id, round, passed is None, passed, score=None if passed is None else score
    )


def state(physician, paper, attempts=(), passed=frozenset(), now=NOW):
    return rules.paper_state(physician, paper, list(attempts), set(passed), now)


def test_required_papers_by_procedure_and_category():
    assert rules.required_papers(SIMPLE, [HUM, PRO, PRO_DENTAL]) == [HUM]
    assert rules.required_papers(DOCTOR, [HUM, PRO, PRO_DENTAL]) == [HUM, PRO]
    dentist = replace(DOCTOR, practice_category="dental")
    assert rules.required_papers(dentist, [HUM, PRO, PRO_DENTAL]) == [HUM, PRO_DENTAL]


def test_exemptions_follow_the_procedure():
    assert state(replace(SIMPLE, exempt_humanities=True), HUM).label == "免考通过"
    # General procedure: only the professional paper can be exempt.
    assert state(replace(DOCTOR, exempt_humanities=True), HUM).code == "open"
    assert state(replace(DOCTOR, exempt_professional=True), PRO).label == "免考通过"


def test_professional_opens_only_after_humanities_is_passed():
    locked = state(DOCTOR, PRO)
    assert (
        locked.code == "locked" and locked.reason == "医学人文测评试卷合格后才可以进行业务水平测评"
    )
    assert state(DOCTOR, PRO, passed={HUM.id}).code == "open"


def test_a_locked_paper_says_why_even_while_its_window_is_open():
    locked = state(DOCTOR, PRO)
    assert PRO.windows[0].opens_at <= NOW < PRO.windows[0].closes_at
    assert locked.label == "需先通过医学人文测评" and locked.status == "需先通过医学人文测评"


def test_states_as_results_never_name_an_action():
    in_makeup = MAKEUP.opens_at + timedelta(hours=1)
    expected = [
        (state(SIMPLE, HUM), "待考"),
        (state(SIMPLE, HUM, [attempt(HUM, False)]), "未达到分数线-可继续测评"),
        (state(DOCTOR, HUM, [attempt(HUM, False)], now=in_makeup), "不合格-可参加补考"),
        (state(DOCTOR, HUM, [attempt(HUM, False)]), "不合格-等待补考"),
        (state(SIMPLE, HUM, [attempt(HUM, None)]), "测评进行中"),
        (state(SIMPLE, HUM, [attempt(HUM, True, score=80)]), "合格"),
        (state(replace(SIMPLE, exempt_humanities=True), HUM), "免考通过"),
        (state(SIMPLE, HUM, [attempt(HUM, False)], now=MAKEUP.closes_at), "不合格"),
        (state(SIMPLE, replace(HUM, windows=(REGULAR,)), now=REGULAR.closes_at), "缺考"),
        (state(replace(SIMPLE, status=RegistrationStatus.WITHDRAWN), HUM), "已退出本周期考核"),
    ]
    assert [s.status for s, _ in expected] == [words for _, words in expected]
    assert state(SIMPLE, HUM).label == "进入测评"  # the home page's button keeps its words


def test_attempt_limits_by_procedure():
    simple = state(SIMPLE, HUM, [attempt(HUM, False)] * 3)
    assert simple.code == "open" and simple.remaining == 17 and simple.label == "进入测评"
    general = state(DOCTOR, HUM, [attempt(HUM, False)])
    assert general.code == "makeup_waiting" and general.label == "不合格-等待补考"


def test_a_pass_ends_the_paper():
    assert state(SIMPLE, HUM, [attempt(HUM, False), attempt(HUM, True, score=80)]).code == "passed"


def test_windows_before_and_after():
    before = state(SIMPLE, HUM, now=REGULAR.opens_at - timedelta(minutes=1))
    assert before.code == "waiting" and before.label == "等待考试开始" and before.window == REGULAR
    after_makeup = state(
        SIMPLE, HUM, [attempt(HUM, False)], now=MAKEUP.closes_at + timedelta(minutes=1)
    )
    assert after_makeup.code == "failed"


def test_makeup_window_only_for_those_who_failed():
    in_makeup = MAKEUP.opens_at + timedelta(hours=1)
    assert state(DOCTOR, HUM, [attempt(HUM, False)], now=in_makeup).code == "open"
    assert state(DOCTOR, HUM, [attempt(HUM, True, score=90)], now=in_makeup).code == "passed"
    # Absent from the regular window: it closed without a pass, so the makeup is open too.
    assert state(DOCTOR, HUM, [], now=in_makeup).label == "进入测评（补考）"
    used = state(
        DOCTOR, HUM, [attempt(HUM, False), attempt(HUM, False, WindowRound.MAKEUP)], now=in_makeup
    )
    assert used.code == "failed"


def test_withdrawn_physicians_start_nothing():
    withdrawn = replace(SIMPLE, status=RegistrationStatus.WITHDRAWN)
    assert not state(withdrawn, HUM).can_start


def test_an_open_attempt_is_resumed_not_duplicated():
    resumed = state(SIMPLE, HUM, [attempt(HUM, None)])
    assert resumed.code == "in_progress" and resumed.can_start


def test_verdict_pass_fail_pending_with_reasons_in_order():
    passed = [
        state(DOCTOR, HUM, [attempt(HUM, True, score=80)]),
        state(DOCTOR, PRO, [attempt(PRO, True)], {1}),
    ]
    assert rules.verdict(DOCTOR, passed).result == "pass"
    failing = replace(DOCTOR, eval_ethics=Evaluation.FAIL)
    failed_paper = state(
        DOCTOR, PRO, [attempt(PRO, False)], {1}, now=MAKEUP.closes_at + timedelta(hours=1)
    )
    result = rules.verdict(failing, [passed[0], failed_paper])
    assert result.result == "fail" and result.reasons == [
        "职业道德评定不合格",
        "业务水平临床测评试卷不合格",
    ]
    pending = rules.verdict(replace(DOCTOR, eval_work_performance=Evaluation.PENDING), passed)
    assert pending.result == "pending"
    assert rules.verdict(DOCTOR, [passed[0], state(DOCTOR, PRO, [], {1})]).result == "pending"


def test_no_pass_while_a_required_paper_is_not_assigned():
    """A roster pulled before the agency assigned the papers: nothing to sit is no pass."""
    humanities_passed = state(DOCTOR, HUM, [attempt(HUM, True, score=80)])
    assert rules.verdict(DOCTOR, [humanities_passed]).result == "pending"  # no professional
    assert rules.verdict(SIMPLE, [humanities_passed]).result == "pass"
    assert rules.verdict(replace(SIMPLE, exempt_humanities=True), []).result == "pending"
    failing = replace(SIMPLE, eval_ethics=Evaluation.FAIL)
    assert rules.verdict(failing, []).result == "fail"  # an evaluation decides at once


def test_current_task_while_waiting_for_a_makeup():
    waiting = state(DOCTOR, HUM, [attempt(HUM, False)])
    assert rules.verdict(DOCTOR, [waiting]).label == "不合格-等待补考"


# --- makeup admission and an administrator's overrides (rules.OverrideFacts) -------------

IN_MAKEUP = NOW + timedelta(days=21)


def numbered(*outcomes: str, paper: PaperFacts = HUM) -> list[AttemptFacts]:
    """Regular attempts in order: passed | failed | voided."""
    return [
        AttemptFacts(
            paper.id,
            WindowRound.REGULAR,
            False,
            outcome == "passed",
            voided=outcome == "voided",
            score=None if outcome == "voided" else 50,
            number=n,
        )
        for n, outcome in enumerate(outcomes, start=1)
    ]


def test_a_void_ending_the_regular_round_bars_the_makeup_unless_the_agency_admits():
    voided = numbered("voided")  # general procedure: one attempt
    barred = state(DOCTOR, HUM, voided, now=IN_MAKEUP)
    assert (barred.code, barred.reason, barred.voided) == ("failed", "违纪终止，不能参加补考", True)
    assert rules.verdict(DOCTOR, [barred]).reasons == ["医学人文测评试卷违纪终止"]
    admitted = rules.OverrideFacts(makeup_after_void=True)
    opened = rules.paper_state(DOCTOR, HUM, voided, set(), IN_MAKEUP, admitted)
    assert (opened.code, opened.label) == ("open", "进入测评（补考）")
    # A void followed by a failed attempt: the round ended in a fail, the makeup is open.
    simple = state(SIMPLE, replace(HUM, attempt_limit_simple=2), numbered("voided", "failed"))
    assert simple.code == "makeup_waiting"


def test_extra_attempts_for_one_physician_reopen_the_regular_round_then_the_makeup():
    used_up = numbered("failed")  # general: the one attempt is used
    assert state(DOCTOR, HUM, used_up).code == "makeup_waiting"
    one_more = rules.OverrideFacts(extra_attempts=1)
    again = rules.paper_state(DOCTOR, HUM, used_up, set(), NOW, one_more)
    assert (again.code, again.label, again.remaining) == ("open", "进入测评", 1)
    # Unused in the regular round, the extra attempt goes on into the makeup.
    later = rules.paper_state(DOCTOR, HUM, used_up, set(), IN_MAKEUP, one_more)
    assert (later.code, later.remaining) == ("open", 2)
    # Used in the regular round, it is gone: the makeup has the paper's limit.
    both = numbered("failed", "failed")
    assert rules.paper_state(DOCTOR, HUM, both, set(), IN_MAKEUP, one_more).remaining == 1


def test_a_makeup_window_may_have_its_own_limit():
    paper = replace(HUM, windows=(REGULAR, replace(MAKEUP, attempt_limit=2)))
    opened = state(DOCTOR, paper, numbered("failed"), now=IN_MAKEUP)
    assert (opened.code, opened.remaining) == ("open", 2)
    makeup = [replace(a, window_round=WindowRound.MAKEUP) for a in numbered("failed", "failed")]
    assert state(DOCTOR, paper, numbered("failed") + makeup, now=IN_MAKEUP).code == "failed"


def test_a_personal_window_counts_for_the_physician_it_was_given_to():
    after_all = MAKEUP.closes_at + timedelta(days=1)
    missed = state(DOCTOR, replace(HUM, windows=(REGULAR,)), now=after_all)
    assert missed.status == "缺考"
    own = replace(REGULAR, id=9, opens_at=after_all, closes_at=after_all + timedelta(days=2))
    personal = rules.OverrideFacts(windows=(replace(own, personal=True),))
    opened = rules.paper_state(
        DOCTOR, replace(HUM, windows=(REGULAR,)), [], set(), after_all, personal
    )
    assert (opened.code, opened.label, opened.window.id, opened.window.personal) == (
        "open",
        "进入测评",
        9,
        True,
    )
