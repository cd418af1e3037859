"""Settings from ``EXAMSVC_*`` environment variables, with typed defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "EXAMSVC_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type
    help: str


# The README's configuration table lists these (by hand, in the same order).
SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", None, str, "Session signing key. Required unless demo mode is on."),
    Setting(
        "DATABASE_URL", None, str, "SQLAlchemy URL. Default: SQLite file in the instance folder."
    ),
    Setting(
        "DB_POOL_SIZE",
        None,
        int,
        "Database connections each process keeps open (default: 10 on PostgreSQL, 5 on"
        " SQLite; docs/operations.md has the arithmetic against max_connections).",
    ),
    Setting(
        "DB_MAX_OVERFLOW",
        None,
        int,
        "Connections a process may open beyond DB_POOL_SIZE under a burst (default: 5 on"
        " PostgreSQL, 10 on SQLite).",
    ),
    Setting(
        "DB_POOL_TIMEOUT",
        None,
        float,
        "Seconds a request waits for a free connection before it is answered 503 busy"
        " (default: 2 on PostgreSQL, 30 on SQLite).",
    ),
    Setting(
        "SQLITE_SYNCHRONOUS",
        "NORMAL",
        str,
        "SQLite only: PRAGMA synchronous (NORMAL, FULL or EXTRA). NORMAL: a commit survives a"
        " killed process but not a power loss (no fsync per commit); FULL: fsync per commit.",
    ),
    Setting("REDIS_URL", None, str, "Redis for the Socket.IO message queue and the face queue."),
    Setting(
        "REDIS_CONNECT_TIMEOUT",
        2.0,
        float,
        "Seconds the Redis clients (face queue, Socket.IO message queue) wait to connect"
        " before the call gives up: the snapshot falls back (this process's face pool, or"
        " the re-queue later), the emit is lost.",
    ),
    Setting(
        "REDIS_TIMEOUT",
        2.0,
        float,
        "Seconds the Redis clients wait for an answer (a Redis that accepts but never"
        " answers) before the call gives up the same way; the message queue's listener waits"
        " this long for the answer to its PING (REDIS_PING_SECONDS).",
    ),
    Setting(
        "REDIS_PING_SECONDS",
        10.0,
        float,
        "Seconds the Socket.IO message queue's listener waits on a silent channel before it"
        " pings Redis: a Redis paused or cut off without closing the connection is noticed"
        " within this plus REDIS_TIMEOUT, and the listener subscribes again.",
    ),
    Setting("DATA_DIR", None, str, "Photos and snapshots. Default: instance/data."),
    Setting("DEMO_MODE", False, bool, "Demo data and demo-only photo enrolment."),
    Setting("ASYNC_MODE", "gevent", str, "Socket.IO async mode (gevent in production)."),
    Setting("LANGUAGE", "zh", str, "Default UI language: zh or en."),
    Setting("SESSION_COOKIE_SECURE", True, bool, "Send the session cookie over HTTPS only."),
    Setting(
        "LOGIN_FREE_FAILURES",
        5,
        int,
        "Failed logins of one account from one address before each try must wait (1, 2, 4 … s).",
    ),
    Setting(
        "LOGIN_FREE_FAILURES_PER_ADDRESS",
        50,
        int,
        "Failed logins from one address (any account) before each try must wait.",
    ),
    Setting("LOGIN_MAX_DELAY_SECONDS", 900, int, "The longest wait between two tries."),
    Setting(
        "LOGIN_FORGET_SECONDS", 3600, int, "Failures are forgotten after this long without one."
    ),
    Setting(
        "PROXY_HOPS",
        0,
        int,
        "Reverse proxies in front that set X-Forwarded-For/-Proto/-Host (0: none).",
    ),
    Setting(
        "MAX_ALLOWANCE_MINUTES",
        60,
        int,
        "The most extra time (延长时间) a physician may be given per attempt, in minutes.",
    ),
    Setting("REGISTRY_BASE_URL", None, str, "Registration system base URL (registry API v1)."),
    Setting("REGISTRY_TOKEN", None, str, "Bearer token for the registration system."),
    Setting("REGISTRY_CYCLE", None, str, "Cycle code to pull, e.g. HN-2024."),
    Setting("REGISTRY_TIMEOUT", 20, int, "Seconds per registry HTTP request."),
    Setting(
        "REGISTRY_RETRY_SECONDS",
        1.0,
        float,
        "Seconds before a roster pull tries a failed registry request (unreachable, 5xx)"
        " again, doubling each time (five tries, at most 60 s apart).",
    ),
    Setting("ROSTER_PULL_INTERVAL", 3600, int, "Seconds between scheduled roster pulls (0: off)."),
    Setting(
        "RESULTS_DELIVER_IN_WEB",
        True,
        bool,
        "The web processes deliver results to the registration system (off when"
        " `examsvc results deliver --forever` runs as a process of its own).",
    ),
    Setting(
        "RESULTS_DELIVERY_INTERVAL",
        15,
        int,
        "Seconds between two looks for results due to the registration system (0: off).",
    ),
    Setting(
        "RESULTS_LEASE_SECONDS",
        120,
        int,
        "How long a delivery worker holds a result it is sending; a killed worker's result is"
        " sent again (same Idempotency-Key) after this.",
    ),
    Setting(
        "RESULTS_SWEEP_INTERVAL",
        300,
        int,
        "Seconds between looks for closed exam windows whose results (缺考) to queue (0: off).",
    ),
    Setting("RESULTS_SWEEP_BATCH", 300, int, "Physicians queued per unit of work by the sweep."),
    Setting("FACE_WORKERS", 0, int, "Face worker processes (0: one per core)."),
    Setting(
        "FACE_NICE",
        10,
        int,
        "How much lower the face workers' CPU priority is than the web process's (nice; 0:"
        " the same), so that answers are acknowledged first when face work fills the cores.",
    ),
    Setting(
        "ADMISSION_SLOTS",
        0,
        int,
        "Entry face verifications admitted at once; more candidates wait in the queue"
        " (排队). 0: twice the face workers of a web process.",
    ),
    Setting(
        "DEVICE_CHECKS",
        0,
        int,
        "Device checks (设备调试) that may wait for a web process's face pool at once; more are"
        " answered 503 busy at once (the page asks again after retry_after). 0: twice the"
        " face workers.",
    ),
    Setting(
        "ADMISSION_TIMEOUT_SECONDS",
        90,
        int,
        "An admitted candidate's slot frees itself after this if the verification never ends.",
    ),
    Setting("OFFLOAD_THREADS", 0, int, "Threads for password hashing (0: one per core but one)."),
    Setting(
        "OFFLOAD_PROCESSES",
        0,
        int,
        "Processes for file parsing and PDFs (0: one per core but one).",
    ),
    Setting(
        "OFFLOAD_QUEUE",
        1000,
        int,
        "Calls that may wait per pool; more are answered 503 (sized for a synchronised start:"
        " a thousand logins wait ~22 s for one hashing thread rather than see 服务器繁忙).",
    ),
    Setting("FACES_DIR", None, str, "Shared face photos for tests and calibration."),
    Setting(
        "ANSWER_GRACE_SECONDS", 30, int, "Late delivery accepted for answers journalled in time."
    ),
    Setting(
        "RETENTION_CLEAN_DAYS",
        30,
        int,
        "Days after a clean attempt's result is final until its snapshots and entry frames"
        " are deleted.",
    ),
    Setting(
        "RETENTION_FLAGGED_DAYS",
        180,
        int,
        "Days flagged evidence (non-ok snapshots, warnings, voided attempts) is kept: the"
        " appeal period.",
    ),
    Setting("RETENTION_BATCH", 1000, int, "Images deleted per unit of work by the purge."),
    Setting("RETENTION_PURGE_INTERVAL", 3600, int, "Seconds between scheduled purges (0: off)."),
    Setting(
        "ENTRY_VALID_MINUTES",
        30,
        int,
        "Minutes a passed entry face verification may open an attempt on its device.",
    ),
    Setting(
        "START_CONCURRENCY",
        4,
        int,
        "Starts (开始考试) run at once in a web process; more wait their turn, so that answers"
        " are acknowledged between them (0: no limit).",
    ),
    Setting(
        "START_WAIT_SECONDS",
        30.0,
        float,
        "Seconds a start waits for its turn before it is answered 503 busy.",
    ),
    Setting(
        "CHECKIN_MINUTES",
        15,
        int,
        "候考: minutes before a window opens in which candidates may pass the device check"
        " and face verification, to start at the opening (0: off; less than"
        " EXAMSVC_ENTRY_VALID_MINUTES).",
    ),
    Setting(
        "LIVENESS",
        True,
        bool,
        "活体检测 at entry: the candidate performs a challenge the server chooses (blink, turn"
        " the head, open the mouth) while the face is verified; a failed challenge is a retry.",
    ),
    Setting(
        "FIRST_LOGIN_FACE",
        True,
        bool,
        "首次登录人脸核验: a physician with a usable registration photo verifies the face"
        " against it before setting the first password (claiming the account).",
    ),
    Setting(
        "HELP_CONTACT",
        "",
        str,
        "Whom candidates call when the camera or face verification stops them (the agency's"
        " name and telephone), shown on those pages. Default: their region's agency.",
    ),
    Setting(
        "SNAPSHOT_MEAN_SECONDS",
        60,
        int,
        "Mean seconds between random snapshots during an exam (jittered 0.5–1.5×; a third for"
        " a flagged candidate).",
    ),
    Setting(
        "FACE_QUEUE_PREFIX",
        "",
        str,
        "Prefix of the RQ face queues' names (several deployments or test runs on one Redis).",
    ),
    Setting(
        "CARD_PUSH_SECONDS",
        1.0,
        float,
        "The invigilators' wall: a candidate's changed card is pushed within this many seconds,"
        " every change of that time in one push, by web processes and RQ face workers (0: at"
        " once, one push per change).",
    ),
    Setting(
        "SNAPSHOT_ANALYSES",
        32,
        int,
        "Snapshot analyses one web process lets wait for the face pool; more are skipped.",
    ),
    Setting(
        "SNAPSHOT_REQUEUE_SECONDS",
        30,
        int,
        "With Redis: how often snapshots left PENDING without a face job (Redis was down or"
        " lost its queue) are queued again (0: never).",
    ),
    Setting(
        "SNAPSHOT_REQUEUE_AFTER",
        180,
        int,
        "Seconds a snapshot stays PENDING before it is queued again (longer than a local"
        " analysis may take).",
    ),
    Setting(
        "ALLOWED_ORIGINS",
        "",
        str,
        "Origins besides the page's own that may open the Socket.IO channel, comma-separated"
        " (behind a proxy that changes the host: its public https:// address).",
    ),
    Setting(
        "SOCKETS_PER_USER",
        3,
        int,
        "Exam-channel connections one physician may hold at once, per server process (0: no cap).",
    ),
    Setting(
        "EVIDENCE_URL_SECONDS",
        300,
        int,
        "How long a signed URL of a snapshot, entry frame or registration photo on the"
        " invigilators' pages stays valid (the viewer's rights are checked on every request too).",
    ),
    Setting(
        "LOG_FORMAT",
        "",
        str,
        "Log lines: json (one object a line, the default under `examsvc serve` and gunicorn)"
        " or text.",
    ),
    Setting(
        "METRICS_TOKEN",
        None,
        str,
        "Bearer token a Prometheus scraper sends for /metrics (without it: loopback only).",
    ),
    Setting(
        "READY_WRITEBACK_MAX_AGE",
        3600,
        int,
        "Seconds a result may wait for the registration system before /readyz says degraded.",
    ),
    Setting(
        "STOP_GRACE_SECONDS",
        20,
        int,
        "On SIGTERM, seconds `examsvc serve` lets requests and answer saves in flight finish.",
    ),
    Setting(
        "CJK_FONT",
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        str,
        "Chinese font for PDF notices.",
    ),
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable to set."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind is bool:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{PREFIX}{setting.name}: expected true/false, got {raw!r}")
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{setting.name}: expected a whole number, got {raw!r}"
            ) from None
    if setting.kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{setting.name}: expected a number, got {raw!r}") from None
    return raw


def load_settings(environ: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """Read every known setting from ``environ``; unknown ``EXAMSVC_`` names are left alone."""
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(PREFIX + setting.name)
        config[setting.name] = setting.default if raw is None else _parse(setting, raw)
    if config["DATABASE_URL"] is None:
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'examsvc.db'}"
    if config["DATA_DIR"] is None:
        config["DATA_DIR"] = str(instance_path / "data")
    if not 0 <= config["CHECKIN_MINUTES"] < config["ENTRY_VALID_MINUTES"]:
        raise ConfigError(
            f"{PREFIX}CHECKIN_MINUTES: expected 0 or more and less than"
            f" {PREFIX}ENTRY_VALID_MINUTES ({config['ENTRY_VALID_MINUTES']}), so that a"
            f" verification made at check-in still opens the attempt at the opening;"
            f" got {config['CHECKIN_MINUTES']}"
        )
    return config


def read_setting(environ: Mapping[str, str], name: str) -> Any:
    """One setting from ``environ`` (its default when unset), for code that runs without an
    app: the RQ face worker's result hook."""
    setting = next(s for s in SETTINGS if s.name == name)
    raw = environ.get(PREFIX + name)
    return setting.default if raw is None else _parse(setting, raw)


def demo_secret_key(instance_path: Path) -> str:
    """A key kept in the instance folder, so demo sessions survive restarts."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()
