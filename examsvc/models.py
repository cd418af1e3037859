"""Every model, imported in one place for Alembic and the shell."""

from examsvc.accounts.models import User
from examsvc.admission.models import AdmissionTicket
from examsvc.attempts.models import Answer, Attempt, AttemptItem, PaperOverride
from examsvc.audit.models import AuditEvent
from examsvc.banks.models import BankVersion, Question, QuestionBank
from examsvc.camera.models import (
    ClientEvent,
    EntryCheck,
    EntryOverride,
    FaceConsent,
    Snapshot,
)
from examsvc.invigilation.models import (
    ExamSession,
    ProctorWarning,
    Site,
    session_candidates,
    session_invigilators,
)
from examsvc.papers.models import ExamWindow, Paper, PaperAssignment, PaperSection
from examsvc.results.models import ResultDelivery
from examsvc.roster.models import Cycle, Physician

__all__ = [
    "AdmissionTicket",
    "Answer",
    "Attempt",
    "AttemptItem",
    "AuditEvent",
    "BankVersion",
    "ClientEvent",
    "Cycle",
    "EntryCheck",
    "EntryOverride",
    "ExamSession",
    "ExamWindow",
    "FaceConsent",
    "Paper",
    "PaperAssignment",
    "PaperOverride",
    "PaperSection",
    "Physician",
    "ProctorWarning",
    "Question",
    "QuestionBank",
    "ResultDelivery",
    "Site",
    "Snapshot",
    "User",
    "session_candidates",
    "session_invigilators",
]
