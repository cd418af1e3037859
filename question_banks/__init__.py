"""Question banks: the question types, the bank file formats (XLSX, CSV, JSON), their
validation, the XLSX template, export, and the sample banks. Plain Python, no Flask."""

from question_banks.parsing import BankMeta, ParsedBank, parse_bank
from question_banks.problems import BankImportError, Problem
from question_banks.types import QUESTION_TYPES, QuestionType

__all__ = [
    "QUESTION_TYPES",
    "BankImportError",
    "BankMeta",
    "ParsedBank",
    "Problem",
    "QuestionType",
    "parse_bank",
]
