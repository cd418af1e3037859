"""The sample banks written by the team (Chinese, original): the demo and the tests use them."""

from __future__ import annotations

from pathlib import Path

from question_banks.parsing import ParsedBank, parse_bank

HERE = Path(__file__).resolve().parent
# (file, code, name, kind, practice category)
SAMPLE_BANKS: list[tuple[str, str, str, str, str | None]] = [
    ("humanities.json", "humanities", "医学人文题库", "humanities", None),
    (
        "professional_clinical.json",
        "professional-clinical",
        "业务水平测评题库（临床）",
        "professional",
        "clinical",
    ),
    (
        "professional_dental.json",
        "professional-dental",
        "业务水平测评题库（口腔）",
        "professional",
        "dental",
    ),
    (
        "professional_public_health.json",
        "professional-public-health",
        "业务水平测评题库（公共卫生）",
        "professional",
        "public_health",
    ),
    (
        "professional_tcm.json",
        "professional-tcm",
        "业务水平测评题库（中医）",
        "professional",
        "tcm",
    ),
]


def sample_bytes(code: str) -> tuple[str, bytes]:
    filename = next(f for f, c, *_ in SAMPLE_BANKS if c == code)
    return filename, (HERE / filename).read_bytes()


def load_sample(code: str) -> ParsedBank:
    filename, data = sample_bytes(code)
    return parse_bank(data, filename)
