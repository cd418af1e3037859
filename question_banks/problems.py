"""Problems found in a bank file: where (file, sheet, row, column) and why, in plain words."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    file: str
    sheet: str | None
    row: int | str | None  # a spreadsheet row (1-based), or a JSON path such as questions[3]
    column: str | None
    code: str
    message: str
    message_en: str

    def where(self) -> str:
        parts = []
        if self.sheet:
            parts.append(f"工作表「{self.sheet}」")
        if isinstance(self.row, int):
            parts.append(f"第 {self.row} 行")
        elif self.row:
            parts.append(str(self.row))
        if self.column:
            parts.append(f"「{self.column}」列")
        return "".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"where": self.where()}

    def __str__(self) -> str:
        return f"{self.where()}：{self.message}"


class BankImportError(Exception):
    """The file is refused as a whole; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the bank file")
        self.problems = sorted(problems, key=_order)

    def __reduce__(self) -> tuple[Any, ...]:  # raised in a worker process, re-raised here
        return (BankImportError, (self.problems,))


def _order(problem: Problem) -> tuple[int, str]:
    return (problem.row if isinstance(problem.row, int) else 0, str(problem.row or ""))
