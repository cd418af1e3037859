"""Storing the roster: one path for the HTTP and file adapters (flush; the unit of work
commits, see ``examsvc.uow``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from threadpoolctl import threadpool_limits

from examsvc.accounts.ids import InvalidIdNumber, id_key, normalise
from examsvc.accounts.operations import ensure_physician_user
from examsvc.accounts.passwords import INITIAL_PASSWORD, hash_password
from examsvc.enums import PhotoStatus, RegistrationStatus
from examsvc.errors import Conflict, Invalid
from examsvc.extensions import db
from examsvc.marks import N_
from examsvc.registry import RegistryError
from examsvc.roster import photos
from examsvc.roster.checks import CheckResult, as_result
from examsvc.roster.models import Cycle, Physician, RosterProblem
from examsvc.roster.schemas import (
    CycleInfo,
    RosterFileError,
    RosterItem,
    RosterPage,
    RowProblem,
    error_fields,
)
from examsvc.signals import verdicts_may_change
from examsvc.uow import end_reads, unit_of_work

log = logging.getLogger("examsvc.roster")

# The physician's fields a verdict depends on: a change is announced (``verdicts_may_change``).
VERDICT_FIELDS = (
    "status",
    "procedure",
    "practice_category",
    "physician_level",
    "exempt_humanities",
    "exempt_professional",
    "eval_work_performance",
    "eval_ethics",
)

# A photo check: bytes -> (ok, reason_code, reason_text, encoding bytes or None). A checker
# with a ``submit(bytes) -> Future`` (``checks.PhotoPool``) gets a page's photos as they
# arrive, checked on every core before the page's unit of work opens.
PhotoChecker = Callable[[bytes], CheckResult]


def engine_photo_checker(data: bytes) -> tuple[bool, str | None, str | None, bytes | None]:
    """The face engine's check, run in this process (the CLI; never the web loop). BLAS on
    one thread, as in the face pool's workers: its idle threads spin, and a check cost
    ~270 ms of CPU instead of ~33 ms (docs/benchmarks.md, the roster benchmark)."""
    # local import: dlib and OpenCV load only where photos are checked (CLI, child process)
    from proctoring.engine import check_registration_photo

    with threadpool_limits(limits=1):
        check = check_registration_photo(data)
    return check.ok, check.reason_code, check.reason_zh, check.encoding_bytes()


@dataclass
class PullReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    photos_downloaded: int = 0
    photos_skipped: int = 0
    photos_failed: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (registration, field, why)
    # Physicians new or changed in a field their verdict depends on, not yet announced.
    verdict_changes: list[int] = field(default_factory=list)

    def announce(self, now: datetime) -> None:
        """Tell whoever listens (the write-back) which physicians' verdicts may have
        changed: once per page or file, in its unit of work."""
        if self.verdict_changes:
            verdicts_may_change.send(tuple(self.verdict_changes), now=now)
            self.verdict_changes = []

    pages: int = 0

    def summary(self) -> str:
        return N_(
            "新增 {created}，更新 {updated}，未变 {unchanged}，退出 {withdrawn}；"
            "照片下载 {downloaded}，跳过 {skipped}，不合格 {failed}；数据问题 {problems}",
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            withdrawn=self.withdrawn,
            downloaded=self.photos_downloaded,
            skipped=self.photos_skipped,
            failed=self.photos_failed,
            problems=len(self.problems),
        )


def account_key(id_type: str, id_number: str) -> str:
    """The login key: 15/18-digit resident IDs share one; other documents are normalised."""
    return id_key(id_number) if id_type == "resident_id" else normalise(id_number)


def ensure_cycle(info: CycleInfo) -> Cycle:
    cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == info.code)).first()
    if cycle is None:
        cycle = Cycle(
            code=info.code, name=info.name, starts_on=info.starts_on, ends_on=info.ends_on
        )
        db.session.add(cycle)
    else:
        cycle.name, cycle.starts_on, cycle.ends_on = info.name, info.starts_on, info.ends_on
    db.session.flush()
    return cycle


def _problem(
    cycle: Cycle, registration_id: str, fld: str, message: str, now: datetime, report: PullReport
) -> None:
    report.problems.append((registration_id, fld, message))
    existing = db.session.scalars(
        sa.select(RosterProblem).where(
            RosterProblem.cycle_id == cycle.id,
            RosterProblem.registration_id == registration_id,
            RosterProblem.field == fld,
        )
    ).first()
    if existing is None:
        db.session.add(
            RosterProblem(
                cycle_id=cycle.id,
                registration_id=registration_id,
                field=fld,
                message=message[:300],
                seen_at=now,
            )
        )
    else:
        existing.message, existing.seen_at = message[:300], now


def validate_item(
    raw: dict[str, Any], typed: dict[str, str] | None = None
) -> tuple[RosterItem | None, list[tuple[str, str]]]:
    """The item, or (field, reason) pairs; ``typed`` (by field) names the bad values."""
    try:
        item = RosterItem.model_validate(raw)
    except ValidationError as exc:
        return None, error_fields(exc, typed)
    try:
        account_key(item.id_type, item.id_number)
    except InvalidIdNumber as exc:
        return None, [("id_number", exc.message)]
    return item, []


def upsert(
    cycle: Cycle, item: RosterItem, *, initial_hash: str, now: datetime, report: PullReport
) -> Physician:
    """Create or update one physician (and their account); withdrawn ones are kept, marked."""
    key = account_key(item.id_type, item.id_number)
    physician = _registered(cycle, item.registration_id)
    user = ensure_physician_user(key, item.name, initial_hash, now=now)
    values = {
        "user_id": user.id,
        "status": item.status,
        "id_type": item.id_type,
        "id_number": normalise(item.id_number),
        "id_key": key,
        "name": item.name,
        "gender": item.gender,
        "birth_date": item.birth_date,
        "phone": item.phone,
        "institution_code": item.institution.code,
        "institution_name": item.institution.name,
        "department": item.department,
        "practice_category": item.practice_category,
        "physician_level": item.physician_level,
        "procedure": item.procedure,
        "exempt_humanities": "humanities" in item.exemptions,
        "exempt_professional": "professional" in item.exemptions,
        "eval_work_performance": item.evaluation.work_performance,
        "eval_ethics": item.evaluation.ethics,
        "photo_url": item.photo.url if item.photo else None,
        "registry_updated_at": item.updated_at,
    }
    decides = physician is None or any(getattr(physician, k) != values[k] for k in VERDICT_FIELDS)
    if physician is None:
        physician = Physician(
            cycle_id=cycle.id,
            registration_id=item.registration_id,
            photo_status=PhotoStatus.PENDING if item.photo else PhotoStatus.MISSING,
            **values,
        )
        db.session.add(physician)
        report.created += 1
    else:
        changed = any(getattr(physician, k) != v for k, v in values.items())
        was_withdrawn = physician.status == RegistrationStatus.WITHDRAWN
        for k, v in values.items():
            setattr(physician, k, v)
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
        if item.status == RegistrationStatus.WITHDRAWN and not was_withdrawn:
            report.withdrawn += 1
    if item.status == RegistrationStatus.WITHDRAWN and physician.id is None:
        report.withdrawn += 1
    db.session.execute(
        sa.delete(RosterProblem).where(
            RosterProblem.cycle_id == cycle.id,
            RosterProblem.registration_id == item.registration_id,
        )
    )
    db.session.flush()
    if decides:
        report.verdict_changes.append(physician.id)
    return physician


def apply_photo(
    physician: Physician,
    data: bytes,
    *,
    data_dir: str,
    checker: PhotoChecker,
    expected_sha256: str | None,
    report: PullReport,
) -> None:
    """Check and store a photo; a photo that fails is recorded with its reason, not accepted."""
    digest = photos.sha256(data)
    if expected_sha256 and digest != expected_sha256.lower():
        physician.photo_status = PhotoStatus.FAILED
        physician.photo_problem = "sha256_mismatch"
        physician.photo_problem_text = N_("照片校验值与登记系统不符")
        physician.face_encoding = None
        report.photos_failed += 1
        return
    ok, code, text, encoding = checker(data)
    physician.photo_sha256 = photos.store(data_dir, data)
    physician.photo_status = PhotoStatus.OK if ok else PhotoStatus.FAILED
    physician.photo_problem = None if ok else code
    physician.photo_problem_text = None if ok else text
    physician.face_encoding = encoding if ok else None
    if not ok:
        report.photos_failed += 1


def photo_needed(physician: Physician, item: RosterItem) -> bool:
    """Download only a new or changed photo (the registry's sha256 tells)."""
    if item.photo is None:
        return False
    if physician.photo_status == PhotoStatus.PENDING:
        return True
    return (physician.photo_sha256 or "").lower() != item.photo.sha256.lower()


class PullBusy(Conflict):
    """Another pull of this cycle holds the lease."""

    def __init__(self, message: str) -> None:
        super().__init__("pull_busy", message)


LEASE_MINUTES = 30


def take_lease(cycle_code: str, now: datetime, minutes: int = LEASE_MINUTES) -> bool:
    """Claim the cycle's pull lease with one conditional UPDATE (atomic on every database)."""
    result = db.session.execute(
        sa.update(Cycle)
        .where(
            Cycle.code == cycle_code,
            sa.or_(Cycle.pull_lease_until.is_(None), Cycle.pull_lease_until < now),
        )
        .values(pull_lease_until=now + timedelta(minutes=minutes))
    )
    return bool(getattr(result, "rowcount", 0))


def pull(
    client: Any,
    cycle_code: str,
    *,
    now: Callable[[], datetime],
    data_dir: str,
    checker: PhotoChecker,
    page_size: int = 500,
    downloads: int = 1,
) -> PullReport:
    """Pull the roster page by page; resumable after a failure.

    The registry is asked between units of work, never inside one: fetch a page and the
    photos it needs (``downloads`` at a time), check them (on every core with a pooled
    checker), then one unit stores the page and its cursor, and commits. A failure half-way
    keeps the pages stored, and the next pull resumes at the cursor; so does a page whose
    photos the registry failed to give (retriable errors): it is not stored. Called by the
    CLI command and the scheduled job (which own no unit of their own), never by a view.
    """
    report = PullReport()
    initial_hash = hash_password(INITIAL_PASSWORD)  # argon2 is slow on purpose: once per pull
    with unit_of_work():
        cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == cycle_code)).first()
        if cycle is not None and not take_lease(cycle_code, now()):
            raise PullBusy(f"a pull of {cycle_code} is already running")
        cursor = cycle.resume_cursor if cycle else None
        since = (cycle.resume_since if cursor else cycle.synced_until) if cycle else None
    pooled = hasattr(checker, "submit")

    def prepare(at: str | None) -> tuple[RosterPage, Fetched, Pending]:
        page = _fetch_page(client, cycle_code, since=since, cursor=at, limit=page_size)
        return page, *_fetch_photos(
            client, cycle_code, page.items, downloads=downloads, checker=checker
        )

    try:
        ahead: tuple[RosterPage, Fetched, Pending] | None = prepare(cursor)
        while True:
            assert ahead is not None
            page, fetched, pending = ahead
            ahead, ahead_error = None, None
            if pooled and page.next_cursor is not None:
                # Read the next page and hand its photos to the pool now: the workers check
                # them while this page is stored. (Decided before this page is stored, so a
                # photo may be fetched that storing turns out not to need: harmless.)
                try:
                    ahead = prepare(page.next_cursor)
                except Exception as exc:  # this page is stored first, then the pull stops
                    ahead_error = exc
            checked = _checked(fetched, pending)
            with unit_of_work():
                cycle = ensure_cycle(page.cycle)
                _store_page(
                    cycle,
                    page.items,
                    photos_fetched=fetched,
                    checked=checked,
                    now=now(),
                    data_dir=data_dir,
                    checker=checker,
                    initial_hash=initial_hash,
                    report=report,
                )
                report.pages += 1
                cursor = page.next_cursor
                cycle.resume_cursor, cycle.resume_since = cursor, since
                if cursor is None:
                    cycle.synced_until = max(
                        filter(None, [cycle.synced_until, cycle.pull_high_water]), default=None
                    )
                    cycle.pull_high_water = None
                cycle.last_pull_at, cycle.last_pull_ok = now(), cursor is None
                cycle.last_pull_summary, cycle.last_pull_error = report.summary(), None
                if cursor is not None:  # a long pull keeps its lease
                    cycle.pull_lease_until = now() + timedelta(minutes=LEASE_MINUTES)
            if cursor is None:
                break
            if ahead_error is not None:
                raise ahead_error
            if ahead is None:
                ahead = prepare(cursor)
    except Exception as exc:
        with unit_of_work():
            _record_failure(cycle_code, str(exc), report, now())
        raise
    finally:
        with unit_of_work():
            db.session.execute(
                sa.update(Cycle).where(Cycle.code == cycle_code).values(pull_lease_until=None)
            )
    return report


def _fetch_page(
    client: Any, cycle_code: str, *, since: datetime | None, cursor: str | None, limit: int
) -> RosterPage:
    body = client.roster_page(cycle_code, updated_since=since, cursor=cursor, limit=limit)
    try:
        return RosterPage.model_validate(body)
    except ValidationError as exc:
        raise RegistryError(
            f"malformed roster page: {error_fields(exc)[0]}", retriable=True
        ) from None


# A downloaded photo, or the registry's refusal to give it.
Fetched = dict[str, bytes | Exception]
# Photos being checked on the pool, by URL.
Pending = dict[str, Future[dict[str, Any]]]


def _fetch_photos(
    client: Any,
    cycle_code: str,
    items: Iterable[Any],
    *,
    downloads: int = 1,
    checker: PhotoChecker | None = None,
) -> tuple[Fetched, Pending]:
    """Download the photos that storing ``items`` will need (new or changed ones, as
    ``_store_page`` decides), with no transaction open while the registry answers; with a
    pooled checker, submit each to the pool as it arrives (``_checked`` waits for them)."""
    cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == cycle_code)).first()
    urls: list[str] = []
    claimed: dict[str, str] = {}  # ID key -> the page's first registration with it
    for raw in items:
        item = validate_item(raw)[0] if isinstance(raw, dict) else None
        if item is None or item.photo is None:
            continue
        key = account_key(item.id_type, item.id_number)
        if claimed.setdefault(key, item.registration_id) != item.registration_id:
            continue
        physician = None
        if cycle is not None:
            if _duplicate_of(cycle, item) is not None:
                continue
            physician = _registered(cycle, item.registration_id)
        if physician is None or photo_needed(physician, item):
            urls.append(item.photo.url)
    end_reads()
    submit: Callable[[bytes], Future[dict[str, Any]]] | None = getattr(checker, "submit", None)
    fetched: Fetched = {}
    pending: Pending = {}

    def got(url: str, data: bytes | Exception) -> None:
        fetched[url] = data
        if submit is not None and isinstance(data, bytes):
            pending[url] = submit(data)  # checked on the pool while the others download

    unique = list(dict.fromkeys(urls))
    if downloads > 1 and len(unique) > 1:
        with ThreadPoolExecutor(min(downloads, len(unique)), "photo-download") as threads:
            futures = {threads.submit(_download, client, url): url for url in unique}
            for future in as_completed(futures):
                got(futures[future], future.result())
    else:
        for url in unique:
            got(url, _download(client, url))
    return fetched, pending


def _checked(fetched: Fetched, pending: Pending) -> dict[str, CheckResult]:
    """The pool's decisions on a page's photos. A retriable download failure (the registry
    down or failing) stops the pull before the page is stored: the next pull resumes here."""
    checked = {url: as_result(future.result()) for url, future in pending.items()}
    for data in fetched.values():
        if isinstance(data, RegistryError) and data.retriable:
            raise RegistryError(f"photo download failed: {data}", retriable=True)
    return checked


def _download(client: Any, url: str) -> bytes | Exception:
    try:
        data: bytes = client.photo(url)
    except RegistryError as exc:  # one photo's refusal (404) must not stop the roster
        return exc
    return data


def _registered(cycle: Cycle, registration_id: str) -> Physician | None:
    return db.session.scalars(
        sa.select(Physician).where(
            Physician.cycle_id == cycle.id, Physician.registration_id == registration_id
        )
    ).first()


def _duplicate_of(cycle: Cycle, item: RosterItem) -> Physician | None:
    """Another registration of the cycle with this item's ID number."""
    return db.session.scalars(
        sa.select(Physician).where(
            Physician.cycle_id == cycle.id,
            Physician.id_key == account_key(item.id_type, item.id_number),
            Physician.registration_id != item.registration_id,
        )
    ).first()


def _record_failure(cycle_code: str, message: str, report: PullReport, at: datetime) -> None:
    cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == cycle_code)).first()
    if cycle is not None:
        cycle.last_pull_at, cycle.last_pull_ok = at, False
        cycle.last_pull_error = message[:2000]
        cycle.last_pull_summary = report.summary()


def _store_page(
    cycle: Cycle,
    items: Iterable[dict[str, Any]],
    *,
    photos_fetched: Fetched,
    checked: dict[str, CheckResult] | None = None,
    now: datetime,
    data_dir: str,
    checker: PhotoChecker,
    initial_hash: str,
    report: PullReport,
) -> None:
    checked = checked or {}
    for raw in items:
        registration_id = str(raw.get("registration_id") or "?") if isinstance(raw, dict) else "?"
        item, problems = (
            validate_item(raw) if isinstance(raw, dict) else (None, [("-", "not an object")])
        )
        if item is None:
            for fld, why in problems:
                _problem(cycle, registration_id, fld, why, now, report)
            continue
        duplicate = _duplicate_of(cycle, item)
        if duplicate is not None:
            _problem(
                cycle,
                item.registration_id,
                "id_number",
                N_("证件号码与报名 {registration} 重复", registration=duplicate.registration_id),
                now,
                report,
            )
            continue
        physician = upsert(cycle, item, initial_hash=initial_hash, now=now, report=report)
        if item.updated_at and (
            cycle.pull_high_water is None or item.updated_at > cycle.pull_high_water
        ):
            cycle.pull_high_water = item.updated_at
        if item.photo is None:
            continue
        if not photo_needed(physician, item):
            report.photos_skipped += 1
            continue
        data = photos_fetched.get(item.photo.url)
        if data is None:  # not foreseen when the page was read: it waits for the next pull
            continue
        if isinstance(data, Exception):
            physician.photo_status = PhotoStatus.FAILED
            physician.photo_problem, physician.photo_problem_text = (
                "download_failed",
                N_("照片下载失败"),
            )
            report.photos_failed += 1
            continue
        report.photos_downloaded += 1
        done = checked.get(item.photo.url)
        apply_photo(
            physician,
            data,
            data_dir=data_dir,
            checker=checker if done is None else _decided(done),
            expected_sha256=item.photo.sha256,
            report=report,
        )
    db.session.flush()
    report.announce(now)


def _decided(result: CheckResult) -> PhotoChecker:
    """A checker that answers what the pool decided already."""

    def checker(_data: bytes) -> CheckResult:
        return result

    return checker


def import_items(cycle: Cycle, items: list[RosterItem], *, now: datetime) -> PullReport:
    """Store every item of a file, or none: a duplicate ID number rejects the file."""
    keys: dict[str, int] = {}
    problems = []
    for row, item in enumerate(items, start=2):
        key = account_key(item.id_type, item.id_number)
        if key in keys:
            problems.append(
                RowProblem(row, "证件号码", N_("证件号码与第 {row} 行重复", row=keys[key]))
            )
        keys.setdefault(key, row)
        other = db.session.scalars(
            sa.select(Physician.registration_id).where(
                Physician.cycle_id == cycle.id,
                Physician.id_key == key,
                Physician.registration_id != item.registration_id,
            )
        ).first()
        if other:
            problems.append(
                RowProblem(
                    row,
                    "证件号码",
                    N_("证件号码与已有报名 {registration} 重复", registration=other),
                )
            )
    if problems:
        raise RosterFileError(problems)
    report = PullReport()
    initial_hash = hash_password(INITIAL_PASSWORD)
    for item in items:
        upsert(cycle, item, initial_hash=initial_hash, now=now, report=report)
    report.announce(now)
    cycle.last_pull_at, cycle.last_pull_ok, cycle.last_pull_summary = (
        now,
        True,
        "文件导入：" + report.summary(),
    )
    db.session.flush()
    return report


def import_photo_folder(
    cycle: Cycle, folder: str, *, data_dir: str, checker: PhotoChecker
) -> PullReport:
    """Photos named by registration id or ID number (e.g. HN2026-0000001.jpg)."""
    report = PullReport()
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        stem = path.stem.strip()
        physician = db.session.scalars(
            sa.select(Physician).where(
                Physician.cycle_id == cycle.id,
                sa.or_(Physician.registration_id == stem, Physician.id_key == _key_or_stem(stem)),
            )
        ).first()
        if physician is None:
            report.problems.append((stem, "photo", N_("没有对应的报名记录")))
            continue
        report.photos_downloaded += 1
        apply_photo(
            physician,
            path.read_bytes(),
            data_dir=data_dir,
            checker=checker,
            expected_sha256=None,
            report=report,
        )
    db.session.flush()
    return report


def _key_or_stem(stem: str) -> str:
    try:
        return id_key(stem)
    except InvalidIdNumber:
        return stem


def check_allowance(minutes: int, cap: int) -> None:
    """Extra time (延长时间) beyond what the agency allows (MAX_ALLOWANCE_MINUTES) is
    refused, for every paper (the physician's allowance) or one (an override)."""
    if minutes > cap:
        raise Invalid(
            "allowance_over_cap",
            N_("延长时间不能超过考核机构规定的上限 {cap} 分钟", cap=cap),
            [{"field": "minutes", "message": N_("不能超过上限 {cap} 分钟", cap=cap)}],
        )
