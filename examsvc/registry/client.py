"""The HTTP adapter for registry API v1 (../shared/docs/registry-api.md): pages and photos,
with retries for 429 (honouring Retry-After), 5xx, timeouts, broken connections and
malformed JSON; 401/403/404 fail at once. A result write-back (``put_result``) is one
request and no retry: the outbox (``examsvc.results.delivery``) owns its retries."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin

import requests

log = logging.getLogger("examsvc.registry")


class RegistryError(Exception):
    """The registry refused or kept failing; ``retriable`` says whether a later pull may work."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class RegistryUnreadable(RegistryError):
    """The registry does not let stored results be read back (HTTP 405 or 501)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the registry cannot be read (HTTP {status})", retriable=False)
        self.status = status


@dataclass(frozen=True)
class _Status:
    """An expected status answered by ``_get`` instead of a body."""

    code: int


@dataclass(frozen=True)
class Reply:
    """The registry's answer to one request, as it came."""

    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 20,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep or time.sleep
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        self.requests_made = 0

    def _get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        want_json: bool,
        answers: dict[int, Any] | None = None,
    ) -> Any:
        """The body; ``answers`` maps statuses the caller expects (e.g. 404) to the value
        returned for them instead of an error."""
        last = "no attempt"
        for attempt in range(1, self.policy.attempts + 1):
            wait = self.policy.delay(attempt)
            try:
                self.requests_made += 1
                response = self.session.get(url, params=params, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"connection failed: {type(exc).__name__}"
            else:
                status = response.status_code
                if answers and status in answers:
                    return answers[status]
                if status in (401, 403):
                    raise RegistryError(
                        f"the registry refused the token (HTTP {status})", retriable=False
                    )
                if status == 404:
                    raise RegistryError(
                        f"not found at the registry: {url} (HTTP 404)", retriable=False
                    )
                if status == 429:
                    last = "rate limited (HTTP 429)"
                    wait = (
                        retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))
                        or wait
                    )
                elif status >= 500:
                    last = f"registry error (HTTP {status})"
                elif status >= 400:
                    raise RegistryError(
                        f"the registry rejected the request (HTTP {status})", retriable=False
                    )
                elif not want_json:
                    return response.content
                else:
                    try:
                        return response.json()
                    except (json.JSONDecodeError, ValueError):
                        last = "malformed JSON from the registry"
            if attempt < self.policy.attempts:
                log.warning("registry: %s; retry %d in %.1fs", last, attempt, wait)
                self.sleep(wait)
        raise RegistryError(f"{last}, after {self.policy.attempts} attempts", retriable=True)

    def roster_page(
        self, cycle: str, *, updated_since: datetime | None, cursor: str | None, limit: int = 500
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": min(limit, 1000)}
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        if cursor:
            params["cursor"] = cursor
        body = self._get(
            urljoin(self.base_url, f"api/v1/cycles/{cycle}/roster"), params, want_json=True
        )
        if not isinstance(body, dict):
            raise RegistryError("malformed roster page (not an object)", retriable=True)
        return body

    def photo(self, url: str) -> bytes:
        data: bytes = self._get(
            urljoin(self.base_url, url.lstrip("/")) if "://" not in url else url, want_json=False
        )
        return data

    def put_result(
        self, cycle: str, registration_id: str, body: dict[str, Any], idempotency_key: str
    ) -> Reply:
        """Write one exam result back (registry API v1 §2): ONE request, whatever it answers;
        a timeout or a broken connection raises a retriable ``RegistryError``."""
        url = urljoin(
            self.base_url,
            f"api/v1/cycles/{quote(cycle, safe='')}/records/"
            f"{quote(registration_id, safe='')}/exam-result",
        )
        try:
            self.requests_made += 1
            response = self.session.put(
                url,
                json=body,
                headers={"Idempotency-Key": idempotency_key},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:  # no answer: a timeout, a broken connection
            raise RegistryError(
                f"connection failed: {type(exc).__name__}", retriable=True
            ) from None
        return Reply(response.status_code, response.text, dict(response.headers))

    # --- reading a written result back (the agency's reconciliation) ---------------------

    def exam_result(self, cycle: str, registration_id: str) -> dict[str, Any] | None:
        """The result the registry holds for a record (GET on the URL results are PUT to):
        None when it holds none (404); ``RegistryUnreadable`` when it cannot be read."""
        body = self._get(
            urljoin(
                self.base_url,
                f"api/v1/cycles/{quote(cycle)}/records/{quote(registration_id)}/exam-result",
            ),
            want_json=True,
            answers={404: None, 405: _Status(405), 501: _Status(501)},
        )
        if isinstance(body, _Status):
            raise RegistryUnreadable(body.code)
        if body is not None and not isinstance(body, dict):
            raise RegistryError("malformed exam result (not an object)", retriable=False)
        return body
