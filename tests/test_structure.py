"""The structure the code keeps: checks over the source, so that it does not drift back."""

from __future__ import annotations

import ast
from pathlib import Path

import examsvc

PACKAGE = Path(examsvc.__file__).resolve().parent
UNIT_OF_WORK = PACKAGE / "uow.py"


def transaction_calls(path: Path) -> list[str]:
    """Every ``….commit(…)`` and ``….rollback(…)`` call in a module, as ``file:line``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"commit", "rollback"}
        ):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.func.attr}")
    return found


def test_only_the_unit_of_work_commits_or_rolls_back():
    """Operations flush; the unit of work (``examsvc/uow.py``) ends every transaction.
    Migrations are outside the package."""
    offenders = [
        call
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != UNIT_OF_WORK
        for call in transaction_calls(path)
    ]
    assert offenders == []


def test_the_check_sees_a_commit():
    assert transaction_calls(UNIT_OF_WORK)  # the check would see one elsewhere too
