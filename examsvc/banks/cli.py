"""``examsvc banks …``: import (all or nothing), list, export, template."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from examsvc import uow
from examsvc.audit.operations import record
from examsvc.banks import operations as ops
from examsvc.banks.models import QuestionBank
from examsvc.clock import now
from examsvc.enums import PaperKind, PracticeCategory
from examsvc.extensions import db
from question_banks import BankImportError, parse_bank
from question_banks.export import export_xlsx
from question_banks.template import build_template

banks = AppGroup("banks", help="Question banks.")


@banks.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code", help="Bank code (default: from a JSON file's bank section).")
@click.option("--name")
@click.option("--kind", type=click.Choice(["humanities", "professional"]))
@click.option("--category", type=click.Choice([c.value for c in PracticeCategory]))
@uow.transactional
def import_command(
    path: Path, code: str | None, name: str | None, kind: str | None, category: str | None
) -> None:
    """Import a bank file (XLSX, CSV or JSON) as the bank's next version: all rows or none."""
    data = path.read_bytes()
    try:
        parsed = parse_bank(data, path.name)
    except BankImportError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"{len(exc.problems)} 处错误，文件未导入（nothing stored）"
        ) from None
    meta = parsed.meta
    code = code or (meta.code if meta else None)
    name = name or (meta.name if meta else None)
    kind = kind or (meta.kind if meta else None)
    category = category or (meta.practice_category if meta else None)
    if not (code and name and kind):
        raise click.ClickException(
            "give --code, --name and --kind (or a JSON file with a bank section)"
        )
    info = ops.BankInfo(
        code, name, PaperKind(kind), PracticeCategory(category) if category else None
    )
    try:
        version = ops.import_bank(
            parsed, info, filename=path.name, data=data, actor_id=None, now=now()
        )
    except ops.BankConflict as exc:
        raise click.ClickException(str(exc)) from None
    record(
        "bank.import",
        "bank",
        code,
        actor_id=None,
        now=now(),
        version=version.number,
        via="cli",
        questions=version.question_count,
    )
    click.echo(
        f"{code} 第 {version.number} 版：{version.question_count} 题（{version.item_count} 个计分小题）"
    )


@banks.command("list")
def list_command() -> None:
    """List banks with their current version."""
    for bank in db.session.scalars(sa.select(QuestionBank).order_by(QuestionBank.code)):
        version = ops.current_version(bank.id)
        detail = f"v{version.number} {version.question_count} 题" if version else "无版本"
        click.echo(f"{bank.code:28} {bank.kind.value:12} {detail}  {bank.name}")


@banks.command("export")
@click.argument("code")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_command(code: str, out: Path) -> None:
    """Export a bank's current version to XLSX."""
    bank = db.session.scalars(sa.select(QuestionBank).where(QuestionBank.code == code)).first()
    version = ops.current_version(bank.id) if bank else None
    if version is None:
        raise click.ClickException(f"no bank {code}")
    out.write_bytes(export_xlsx(None, ops.version_questions(version.id)))
    click.echo(f"wrote {out}")


@banks.command("template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def template_command(out: Path) -> None:
    """Write the XLSX template for agency clerks."""
    out.write_bytes(build_template())
    click.echo(f"wrote {out}")
