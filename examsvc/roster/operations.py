"""Storing the roster: one path for the HTTP and file adapters (flush; the unit of work
commits, see ``examsvc.uow``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from threadpoolctl import threadpool_limits

from examsvc.accounts.ids import InvalidIdNumber, id_key, normalise
from examsvc.accounts.models import User
from examsvc.accounts.operations import new_physician_user, physician_users
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


# SQLite binds at most 32,766 values a statement (999 before 3.32): IN lists go in chunks.
IN_CHUNK = 500


def _chunks(values: Iterable[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def _stored(cycle_id: int, items: Iterable[RosterItem], *what: Any) -> list[sa.Row[Any]]:
    """``what`` (the entity, or columns), then the ID key held, of the cycle's physicians
    with these items' registrations or ID numbers: a query per 500 registrations, then per
    500 ID keys that none of those holds (a key has one holder in a cycle)."""
    registrations = {item.registration_id for item in items}
    keys = {account_key(item.id_type, item.id_number) for item in items}
    rows: list[sa.Row[Any]] = []

    def read(column: Any, values: set[str]) -> None:
        for chunk in _chunks(values):
            rows.extend(
                db.session.execute(
                    sa.select(*what, Physician.id_key.label("held_key")).where(
                        Physician.cycle_id == cycle_id, column.in_(chunk)
                    )
                )
            )

    read(Physician.registration_id, registrations)
    read(Physician.id_key, keys - {row.held_key for row in rows})
    return rows


class _Store:
    """A page's (or a file's) physicians and accounts: what exists is read with one query
    each, what changes is written with one flush, and every decision is the one storing
    the items one by one, in order, would make: an item sees the page's earlier items (a
    registration given twice, an ID number taken or given up earlier in the page)."""

    def __init__(
        self, cycle: Cycle, items: list[RosterItem], *, now: datetime, report: PullReport
    ) -> None:
        self.cycle, self.now, self.report = cycle, now, report
        self.by_registration: dict[str, Physician] = {}
        self.by_key: dict[str, Physician] = {}  # who holds an ID key now (in this page)
        for row in _stored(cycle.id, items, Physician):
            physician: Physician = row[0]
            self.by_registration[physician.registration_id] = physician
            self.by_key[physician.id_key] = physician
        self.users = physician_users({account_key(i.id_type, i.id_number) for i in items})
        self.user_set: dict[str, User] = {}  # registration -> the account given in this page
        self.given_up: set[str] = set()  # ID keys a physician changed away from, not flushed
        self.cleared: set[str] = set()  # registrations stored: their old problems go
        self.problems: dict[str, dict[str, str]] = {}  # registration -> field -> why
        self.announced: list[Physician] = []  # verdicts that may change, in order

    def duplicate_of(self, item: RosterItem) -> Physician | None:
        """Another registration of the cycle with this item's ID number."""
        holder = self.by_key.get(account_key(item.id_type, item.id_number))
        return holder if holder and holder.registration_id != item.registration_id else None

    def problem(self, registration_id: str, fld: str, message: str) -> None:
        self.report.problems.append((registration_id, fld, message))
        self.problems.setdefault(registration_id, {})[fld] = message

    def upsert(self, item: RosterItem, initial_hash: str) -> Physician:
        """Create or update one physician (and their account); withdrawn ones are kept,
        marked. Its earlier problems go."""
        report = self.report
        key = account_key(item.id_type, item.id_number)
        physician = self.by_registration.get(item.registration_id)
        user = self.users.get(key)
        if user is None:
            user = self.users[key] = new_physician_user(key, item.name, initial_hash, now=self.now)
        elif user.display_name != item.name:
            user.display_name = item.name
        values = {
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
        if physician is None:
            self._take(key, None)
            physician = Physician(
                cycle_id=self.cycle.id,
                registration_id=item.registration_id,
                photo_status=PhotoStatus.PENDING if item.photo else PhotoStatus.MISSING,
                user=user,
                **values,
            )
            db.session.add(physician)
            self.by_registration[item.registration_id] = physician
            self.user_set[item.registration_id] = user
            report.created += 1
            if item.status == RegistrationStatus.WITHDRAWN:
                report.withdrawn += 1
            self.announced.append(physician)
        else:
            decides = any(getattr(physician, k) != values[k] for k in VERDICT_FIELDS)
            given = self.user_set.get(item.registration_id)
            changed = given is not user if given is not None else physician.user_id != user.id
            if changed:
                physician.user = user  # its user_id at the flush (a new account has none yet)
                self.user_set[item.registration_id] = user
            if physician.id_key != key:
                self._take(key, physician)
            was_withdrawn = physician.status == RegistrationStatus.WITHDRAWN
            for k, v in values.items():
                if getattr(physician, k) != v:
                    setattr(physician, k, v)
                    changed = True
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
            if item.status == RegistrationStatus.WITHDRAWN and not was_withdrawn:
                report.withdrawn += 1
            if decides:
                self.announced.append(physician)
        self.by_key[key] = physician
        self.cleared.add(item.registration_id)
        self.problems.pop(item.registration_id, None)
        return physician

    def _take(self, key: str, physician: Physician | None) -> None:
        """Before ``physician`` (None: a new one) takes ``key``: release its old key, and
        write first a change that gave ``key`` up earlier in the page (the database checks
        one ID number per cycle at every statement, whatever order the flush picks)."""
        if key in self.given_up:
            db.session.flush()
            self.given_up.clear()
        if physician is not None and self.by_key.get(physician.id_key) is physician:
            del self.by_key[physician.id_key]
            self.given_up.add(physician.id_key)

    def finish(self) -> None:
        """Write the problems (a stored registration's old ones go), flush once, and note
        the ids of the physicians whose verdicts may change."""
        cycle_id = self.cycle.id
        for chunk in _chunks(self.cleared):
            db.session.execute(
                sa.delete(RosterProblem).where(
                    RosterProblem.cycle_id == cycle_id, RosterProblem.registration_id.in_(chunk)
                )
            )
        if self.problems:
            existing = {
                (p.registration_id, p.field): p
                for chunk in _chunks(self.problems)
                for p in db.session.scalars(
                    sa.select(RosterProblem).where(
                        RosterProblem.cycle_id == cycle_id,
                        RosterProblem.registration_id.in_(chunk),
                    )
                )
            }
            for registration_id, fields in self.problems.items():
                for fld, message in fields.items():
                    row = existing.get((registration_id, fld))
                    if row is None:
                        db.session.add(
                            RosterProblem(
                                cycle_id=cycle_id,
                                registration_id=registration_id,
                                field=fld,
                                message=message[:300],
                                seen_at=self.now,
                            )
                        )
                    else:
                        row.message, row.seen_at = message[:300], self.now
        db.session.flush()
        self.report.verdict_changes.extend(p.id for p in self.announced)


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

    def prepare(at: str | None) -> tuple[RosterPage, list[Validated], Fetched, Pending]:
        page = _fetch_page(client, cycle_code, since=since, cursor=at, limit=page_size)
        validated = _validate(page.items)
        return (
            page,
            validated,
            *_fetch_photos(client, cycle_code, validated, downloads=downloads, checker=checker),
        )

    try:
        ahead: tuple[RosterPage, list[Validated], Fetched, Pending] | None = prepare(cursor)
        while True:
            assert ahead is not None
            page, validated, fetched, pending = ahead
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
                    validated,
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
# A page's item as validated once (for its photos and its storing): the registration id as
# given ("?" if none), the item or None, and the (field, reason) problems.
Validated = tuple[str, RosterItem | None, list[tuple[str, str]]]


def _validate(items: Iterable[Any]) -> list[Validated]:
    page: list[Validated] = []
    for raw in items:
        if isinstance(raw, dict):
            registration_id = str(raw.get("registration_id") or "?")
            page.append((registration_id, *validate_item(raw)))
        else:
            page.append(("?", None, [("-", "not an object")]))
    return page


def _fetch_photos(
    client: Any,
    cycle_code: str,
    page: list[Validated],
    *,
    downloads: int = 1,
    checker: PhotoChecker | None = None,
) -> tuple[Fetched, Pending]:
    """Download the photos that storing ``page`` will need (new or changed ones, as
    ``_store_page`` decides), with no transaction open while the registry answers; with a
    pooled checker, submit each to the pool as it arrives (``_checked`` waits for them)."""
    cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == cycle_code)).first()
    wanted = [item for _, item, _ in page if item is not None and item.photo is not None]
    known: dict[str, Any] = {}  # registration -> its photo state as stored
    holders: dict[str, str] = {}  # ID key -> the registration holding it
    if cycle is not None and wanted:
        for row in _stored(
            cycle.id,
            wanted,
            Physician.registration_id,
            Physician.photo_status,
            Physician.photo_sha256,
        ):
            known[row.registration_id] = row
            holders[row.held_key] = row.registration_id
    urls: list[str] = []
    claimed: dict[str, str] = {}  # ID key -> the page's first registration with it
    for item in wanted:
        assert item.photo is not None
        key = account_key(item.id_type, item.id_number)
        if claimed.setdefault(key, item.registration_id) != item.registration_id:
            continue
        if holders.get(key, item.registration_id) != item.registration_id:
            continue  # another registration's ID number: refused when stored
        physician = known.get(item.registration_id)
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


def _record_failure(cycle_code: str, message: str, report: PullReport, at: datetime) -> None:
    cycle = db.session.scalars(sa.select(Cycle).where(Cycle.code == cycle_code)).first()
    if cycle is not None:
        cycle.last_pull_at, cycle.last_pull_ok = at, False
        cycle.last_pull_error = message[:2000]
        cycle.last_pull_summary = report.summary()


def _store_page(
    cycle: Cycle,
    page: list[Validated],
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
    store = _Store(cycle, [item for _, item, _ in page if item is not None], now=now, report=report)
    for registration_id, item, problems in page:
        if item is None:
            for fld, why in problems:
                store.problem(registration_id, fld, why)
            continue
        duplicate = store.duplicate_of(item)
        if duplicate is not None:
            store.problem(
                item.registration_id,
                "id_number",
                N_("证件号码与报名 {registration} 重复", registration=duplicate.registration_id),
            )
            continue
        physician = store.upsert(item, initial_hash)
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
    store.finish()
    report.announce(now)


def _decided(result: CheckResult) -> PhotoChecker:
    """A checker that answers what the pool decided already."""

    def checker(_data: bytes) -> CheckResult:
        return result

    return checker


def import_items(cycle: Cycle, items: list[RosterItem], *, now: datetime) -> PullReport:
    """Store every item of a file, or none: a duplicate ID number rejects the file."""
    report = PullReport()
    store = _Store(cycle, items, now=now, report=report)
    keys: dict[str, int] = {}
    problems = []
    for row, item in enumerate(items, start=2):
        key = account_key(item.id_type, item.id_number)
        if key in keys:
            problems.append(
                RowProblem(row, "证件号码", N_("证件号码与第 {row} 行重复", row=keys[key]))
            )
        keys.setdefault(key, row)
        other = store.duplicate_of(item)  # nothing stored yet: as the database has it
        if other is not None:
            problems.append(
                RowProblem(
                    row,
                    "证件号码",
                    N_(
                        "证件号码与已有报名 {registration} 重复", registration=other.registration_id
                    ),
                )
            )
    if problems:
        raise RosterFileError(problems)
    initial_hash = hash_password(INITIAL_PASSWORD)
    for item in items:
        store.upsert(item, initial_hash)
    store.finish()
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
