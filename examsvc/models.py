"""Every model, imported in one place for Alembic and the shell."""

from examsvc.accounts.models import User
from examsvc.attempts.models import Answer, Attempt, AttemptItem
from examsvc.audit.models import AuditEvent
from examsvc.banks.models import BankVersion, Question, QuestionBank
from examsvc.invigilation.models import ExamSession, Site, session_candidates, session_invigilators
from examsvc.papers.models import ExamWindow, Paper, PaperAssignment, PaperSection
from examsvc.roster.models import Cycle, Physician

__all__ = [
    "Answer",
    "Attempt",
    "AttemptItem",
    "AuditEvent",
    "BankVersion",
    "Cycle",
    "ExamSession",
    "ExamWindow",
    "Paper",
    "PaperAssignment",
    "PaperSection",
    "Physician",
    "Question",
    "QuestionBank",
    "Site",
    "User",
    "session_candidates",
    "session_invigilators",
]
