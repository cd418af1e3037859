"""The face jobs a worker process runs: plain, picklable functions of bytes and config."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from proctoring import engine, faces, liveness
from proctoring.config import DEFAULT, FaceConfig
from proctoring.frames import FrameError, decode


def warm_up() -> None:
    """Initializer of a worker process: load the models once, and keep numpy's BLAS to one
    thread (there is one worker per core; more threads would only fight over the cores)."""
    threadpool_limits(limits=1)
    faces.warm_up()


def ready() -> int:
    """A job that only proves a worker process is up (its models loaded by ``warm_up``)."""
    return os.getpid()


def run(kind: str, payload: dict[str, Any], config: FaceConfig | None = None) -> dict[str, Any]:
    """Run one job; refused frames come back as ``{"ok": False, "error": code, ...}``."""
    try:
        if kind == "registration_photo":
            check = engine.check_registration_photo(payload["image"], config)
            return {
                "ok": check.ok,
                "reason_code": check.reason_code,
                "reason_zh": check.reason_zh,
                "reason_en": check.reason_en,
                "encoding": check.encoding_bytes(),
                "measurements": check.measurements,
            }
        if kind == "entry":
            decision = engine.verify_entry(payload["frames"], payload["reference"], config)
            return {
                **decision.as_dict(),
                "ok": decision.passed,
                "enrolled": [faces.to_bytes(e) for e in decision.enrolled],
            }
        if kind == "snapshot":
            return engine.check_snapshot(
                payload["image"], payload.get("enrolled", []), config
            ).as_dict()
        if kind == "liveness":  # a challenge (liveness.choose) over a short frame sequence
            verdict = liveness.check(payload["frames"], payload["challenge"], config)
            return {"ok": verdict.passed, **verdict.as_dict()}
        if kind == "camera":  # the device check before entry: light, size, one face; no encoding
            config = config or DEFAULT
            analysis = engine.analyse(decode(payload["image"], config), config, encode=False)
            return {
                "ok": True,
                "good": not analysis.issues,
                "face_count": analysis.face_count,
                "issues": [issue.as_dict() for issue in analysis.issues],
                "measurements": analysis.measurements,
            }
        if kind == "count":
            return {"ok": True, **engine.count_faces(payload["image"], config).as_dict()}
        if kind == "crash":  # for tests: a job that kills its worker process
            os._exit(3)
        if kind == "hold":  # for tests: a job that keeps its worker until a file exists
            deadline = time.monotonic() + float(payload.get("seconds", 60))
            while not Path(payload["until"]).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            return {"ok": True}
    except FrameError as exc:
        return {
            "ok": False,
            "error": exc.code,
            "message_zh": exc.message_zh,
            "message_en": exc.message_en,
        }
    raise ValueError(f"unknown face job {kind!r}")
