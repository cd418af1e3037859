"""``examsvc papers …`` and ``examsvc windows …``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from pydantic import ValidationError

from examsvc import uow
from examsvc.audit.operations import record
from examsvc.clock import BEIJING, beijing_time, now
from examsvc.enums import WindowRound
from examsvc.errors import field_errors
from examsvc.extensions import db
from examsvc.papers import operations as ops
from examsvc.papers.models import Paper
from examsvc.papers.queries import assigned_slots, cycle_windows
from examsvc.papers.schemas import PaperSpec
from examsvc.roster.queries import current_cycle

papers = AppGroup("papers", help="Papers and their blueprints.")
windows = AppGroup("windows", help="Exam windows (regular and makeup).")


def _cycle_id() -> int:
    cycle = current_cycle()
    if cycle is None:
        raise click.ClickException("no cycle yet: pull or import the roster first")
    return cycle.id


@papers.command("create")
@click.option(
    "--from-json",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
)
@uow.transactional
def create(path: Path) -> None:
    """Create or update papers from a JSON file (one paper, or a list)."""
    body = json.loads(path.read_text(encoding="utf-8"))
    for raw in body if isinstance(body, list) else [body]:
        try:
            spec = PaperSpec.model_validate(raw)
            paper = ops.save_paper(_cycle_id(), spec, now=now())
        except ValidationError as exc:
            why = "；".join(f"{d['field']}：{d['message']}" for d in field_errors(exc))
            raise click.ClickException(f"{raw.get('code', '?')}: {why}") from None
        except ops.PaperRefused as exc:
            raise click.ClickException(f"{spec.code}: " + "；".join(exc.problems)) from None
        record(
            "paper.save", "paper", paper.id, actor_id=None, now=now(), code=paper.code, via="cli"
        )
        click.echo(f"saved {paper.code}: {len(paper.sections)} sections")


def _paper(code: str) -> Paper:
    paper = db.session.scalars(
        sa.select(Paper).where(Paper.cycle_id == _cycle_id(), Paper.code == code)
    ).first()
    if paper is None:
        raise click.ClickException(f"no paper {code}")
    return paper


@papers.command("preview")
@click.argument("code")
@click.option("--seed", default=1, show_default=True)
@click.option("--answers", is_flag=True, help="Show the keys too.")
def preview_command(code: str, seed: int, answers: bool) -> None:
    """Print a generated sample of a paper as a candidate would see it."""
    for q in ops.preview(_paper(code), seed, with_answers=answers):
        click.echo(f"{q['number']}. [{q['label']}] {q['stem']}")
        for i, option in enumerate(q.get("options") or []):
            click.echo(f"    {'ABCDEFGH'[i]}. {option['text']}")
        for sub in q.get("sub_questions") or []:
            click.echo(f"    - {sub['stem']}")
        if answers:
            click.echo(f"    答案：{q['key'].text}")


@papers.command("list")
def list_command() -> None:
    in_use = assigned_slots(_cycle_id())
    for paper in db.session.scalars(
        sa.select(Paper).where(Paper.cycle_id == _cycle_id()).order_by(Paper.code)
    ):
        state = "当前使用" if paper.id in in_use else "未使用"
        click.echo(
            f"{paper.code:20} {paper.kind.value:12} {paper.duration_minutes} 分钟 合格 {paper.pass_mark}  {state}  {paper.name}"
        )


@papers.command("assign")
@click.argument("code")
@uow.transactional
def assign_command(code: str) -> None:
    """设为当前使用: physicians who have not started this kind sit this paper from now on."""
    paper = _paper(code)
    try:
        replaced = ops.assign_paper(paper, now=now())
    except ops.AssignRefused as exc:
        raise click.ClickException(str(exc)) from None
    old = [p.code for p in replaced]
    record(
        "paper.assign",
        "paper",
        paper.id,
        actor_id=None,
        now=now(),
        code=code,
        replaced=old,
        via="cli",
    )
    click.echo(f"{code} is in use" + (f" (replacing {', '.join(old)})" if old else ""))


def _when(text: str) -> datetime:
    """Beijing time as agencies write it: 2026-05-11 09:00."""
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD HH:MM (Beijing time)") from None


@windows.command("add")
@click.argument("paper_code")
@click.option("--opens", required=True, help="YYYY-MM-DD HH:MM, Beijing time")
@click.option("--closes", required=True, help="YYYY-MM-DD HH:MM, Beijing time")
@click.option("--makeup", is_flag=True, help="A makeup window (补考), for those who failed.")
@click.option(
    "--attempt-limit",
    type=click.IntRange(1, 10),
    default=None,
    help="A makeup window's own attempt limit (default: the paper's).",
)
@uow.transactional
def add(paper_code: str, opens: str, closes: str, makeup: bool, attempt_limit: int | None) -> None:
    """Add an exam window to a paper."""
    try:
        window = ops.add_window(
            _paper(paper_code),
            round=WindowRound.MAKEUP if makeup else WindowRound.REGULAR,
            opens_at=_when(opens),
            closes_at=_when(closes),
            attempt_limit=attempt_limit,
        )
    except ops.WindowChangeRefused as exc:
        raise click.ClickException(str(exc)) from None
    record("window.add", "window", window.id, actor_id=None, now=now(), paper=paper_code, via="cli")
    click.echo(f"window {window.id}: {opens} – {closes} ({window.round.value})")


@windows.command("list")
def list_windows() -> None:
    for window in cycle_windows(_cycle_id()):
        click.echo(
            f"{window.id:4} {window.paper.code:16} {window.round.value:8} "
            f"{beijing_time(window.opens_at)} – {beijing_time(window.closes_at)}"
            + (f" (limit {window.attempt_limit})" if window.attempt_limit else "")
        )
