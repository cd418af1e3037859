"""An on_result hook for the RQ test: records the job id under the meta's key."""

from __future__ import annotations

import os
from typing import Any

import redis


def remember(job_id: str | None, meta: dict[str, Any], result: dict[str, Any]) -> None:
    client = redis.Redis.from_url(os.environ["EXAMSVC_TEST_REDIS_URL"])
    client.set(meta["key"], job_id or "")
