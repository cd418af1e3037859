"""Enumerations shared across features (values are the registry API's words)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PHYSICIAN = "physician"
    INVIGILATOR = "invigilator"
    ADMIN = "admin"  # assessment agency administrator
    VIEWER = "viewer"  # read-only statistics


class PracticeCategory(StrEnum):
    CLINICAL = "clinical"
    DENTAL = "dental"
    PUBLIC_HEALTH = "public_health"
    TCM = "tcm"


class PhysicianLevel(StrEnum):
    PHYSICIAN = "physician"
    ASSISTANT = "assistant"


class Procedure(StrEnum):
    SIMPLE = "simple"
    GENERAL = "general"


class PaperKind(StrEnum):
    HUMANITIES = "humanities"
    PROFESSIONAL = "professional"


class Evaluation(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    PENDING = "pending"


class RegistrationStatus(StrEnum):
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class PhotoStatus(StrEnum):
    PENDING = "pending"  # not yet downloaded or checked
    OK = "ok"
    FAILED = "failed"  # see Physician.photo_problem
    MISSING = "missing"


class WindowRound(StrEnum):
    REGULAR = "regular"
    MAKEUP = "makeup"


class OverrideKind(StrEnum):
    """An administrator's decision for one physician and one paper (个人特殊安排)."""

    EXTRA_ATTEMPTS = "extra_attempts"  # 增加可考次数
    WINDOW = "window"  # 个人考试时间
    MAKEUP_AFTER_VOID = "makeup_after_void"  # 违纪终止后准许补考
    EXTRA_TIME = "extra_time"  # 延长测评时间


class AttemptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    VOIDED = "voided"


class SubmitReason(StrEnum):
    CANDIDATE = "candidate"
    DEADLINE = "deadline"
    INVIGILATOR = "invigilator"
