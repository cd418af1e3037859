"""How long a 3,000-question XLSX bank takes: parse and validate, then store in the database.

    .venv/bin/python bench/bench_import.py [--questions 3000] [--database-url URL]

Generates a realistic XLSX (every type, Chinese text, case and matching groups) with
openpyxl, then times parse_bank, and the whole import (parse + insert in one transaction)
into a fresh SQLite file or the PostgreSQL database given.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from openpyxl import Workbook  # noqa: E402

from question_banks import parse_bank  # noqa: E402
from question_banks.export import HEADER, rows  # noqa: E402

TAGS = ["医学伦理", "卫生法规", "医患沟通", "医学人文"]
TEXT = "患者，男，56岁，因反复胸痛三天就诊，既往有高血压病史十年，吸烟三十年，查体血压一百六十比一百毫米汞柱。"


def questions(n: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    options = {k: f"选项{k}：{TEXT[:18]}" for k in "ABCDE"}
    i = 0
    while len(out) < n:
        i += 1
        kind = ("single", "single", "single", "multiple", "true_false", "case", "matching")[i % 7]
        base = {
            "external_id": f"Q{i:05d}",
            "type": kind,
            "tag": TAGS[i % 4],
            "difficulty": 1 + i % 5,
            "stem": f"第{i}题 {TEXT}下列说法正确的是",
        }
        if kind in ("single", "multiple"):
            base |= {
                "options": options,
                "answer": "C" if kind == "single" else ["A", "C"],
                "explanation": TEXT,
            }
        elif kind == "true_false":
            base |= {"answer": i % 2 == 0, "explanation": TEXT}
        else:
            subs = [
                {
                    "external_id": f"Q{i:05d}-{j}",
                    "stem": f"小题{j} {TEXT[:20]}",
                    "answer": "B",
                    "explanation": TEXT,
                }
                for j in (1, 2, 3)
            ]
            if kind == "case":
                subs = [s | {"options": options} for s in subs]
                base |= {"explanation": "", "sub_questions": subs}
            else:
                base |= {"options": options, "explanation": "", "sub_questions": subs}
        out.append(base)
    return out


def xlsx(qs: list[dict[str, object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "题目"
    sheet.append(HEADER)
    for row in rows(qs):  # type: ignore[arg-type]
        sheet.append(
            [
                "".join(v)
                if isinstance(v, list)
                else ("对" if v is True else "错" if v is False else v)
                for v in row
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    data = xlsx(questions(args.questions))
    parse_times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        bank = parse_bank(data, "bench.xlsx")
        parse_times.append(time.perf_counter() - started)
    print(
        f"{len(bank.questions)} questions, {bank.item_count} scoring rows, {len(data) / 1e6:.1f} MB XLSX"
    )
    print(
        f"parse + validate: median {statistics.median(parse_times):.2f} s over {args.rounds} runs"
    )

    from examsvc import create_app
    from examsvc.banks.operations import BankInfo, import_bank
    from examsvc.clock import now
    from examsvc.enums import PaperKind
    from examsvc.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        app = create_app({"TESTING": True, "DATABASE_URL": url, "DATA_DIR": tmp})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            times = []
            for n in range(args.rounds):
                started = time.perf_counter()
                parsed = parse_bank(data, "bench.xlsx")
                import_bank(
                    parsed,
                    BankInfo(f"bench{n}", "基准题库", PaperKind.HUMANITIES, None),
                    filename="bench.xlsx",
                    data=data,
                    actor_id=None,
                    now=now(),
                )
                db.session.commit()
                times.append(time.perf_counter() - started)
            print(
                f"whole import (parse + store, one transaction) on {db.engine.dialect.name}: "
                f"median {statistics.median(times):.2f} s over {args.rounds} runs"
            )
            if args.database_url:
                db.drop_all()
                from sqlalchemy import text

                with db.engine.begin() as conn:
                    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


if __name__ == "__main__":
    main()
