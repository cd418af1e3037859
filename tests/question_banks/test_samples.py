"""The sample banks are valid, big enough, hold every type, and round-trip through XLSX."""

from __future__ import annotations

from collections import Counter

import pytest

from question_banks import parse_bank
from question_banks.export import export_xlsx
from question_banks.samples import SAMPLE_BANKS, load_sample

TYPES = {"single", "multiple", "true_false", "case", "matching"}


@pytest.mark.parametrize(
    ("filename", "code", "name", "kind", "category"), SAMPLE_BANKS, ids=lambda v: str(v)
)
def test_sample_bank_is_valid_and_complete(filename, code, name, kind, category):
    bank = load_sample(code)
    assert bank.meta is not None and (bank.meta.code, bank.meta.kind) == (code, kind)
    assert bank.meta.practice_category == category
    minimum = 120 if kind == "humanities" else 40
    assert len(bank.questions) >= minimum
    assert set(Counter(q["type"] for q in bank.questions)) == TYPES
    assert parse_bank(export_xlsx(bank.meta, bank.questions), "x.xlsx").questions == bank.questions


def test_humanities_covers_its_four_subjects():
    tags = Counter(q["tag"] for q in load_sample("humanities").questions)
    assert set(tags) == {"医学伦理", "卫生法规", "医患沟通", "医学人文"}
    assert min(tags.values()) >= 25
