"""A property-based fuzz run of the JSON API from its own OpenAPI document (schemathesis,
over WSGI), as the anonymous, a physician in an attempt and an administrator (on random
ids, and on the world's own paper, window and attempt so that the agencies' endpoints —
banks, papers, windows, roster — reach their rules): no 5xx, and every answer conforms
to the document (status codes, content type, the error shape, the success's schema).
Bounded and derandomized for CI: a few examples per operation and role."""

from __future__ import annotations

import tempfile
from typing import Any

import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from examsvc import create_app
from tests.security.conftest import World, client_of, fresh

EXAMPLES = 12


def _document() -> dict[str, Any]:
    """The document as the app serves it (an app of its own: the fixtures' app is per test)."""
    with tempfile.TemporaryDirectory() as path:
        app = create_app(
            {"TESTING": True, "DATABASE_URL": f"sqlite:///{path}/x.db", "DATA_DIR": path}
        )
        document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").get_json()
    return document


schema = schemathesis.openapi.from_dict(_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _run(app: Flask, world: World, case: Any, role: str, own: bool = False) -> None:
    client = client_of(app, world.users[role])
    if own:  # the bodies against the world's own attempt, paper and window, not random ids
        mine = {
            "attempt_id": world.hall.attempt_a.id,
            "paper_id": world.hall.paper.id,
            "window_id": world.hall.window.id,
        }
        params = case.path_parameters or {}
        case.path_parameters = {k: mine.get(k, v) for k, v in params.items()}
    cookie = client.http.get_cookie("session")
    headers = {"X-CSRFToken": client.token}
    if cookie is not None:
        headers["Cookie"] = f"session={cookie.value}"
    kwargs = case.as_transport_kwargs(base_url="http://localhost", headers=headers)
    if "files" in kwargs:  # an upload: the multipart body as requests encodes it
        prepared = requests.Request(
            method=kwargs["method"],
            url=kwargs["url"],
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
            data=kwargs.get("data"),
            files=kwargs["files"],
        ).prepare()
        sent = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
        kwargs = {
            "url": prepared.path_url,
            "method": kwargs["method"],
            "headers": sent,
            "data": prepared.body,
        }
    fresh()
    response = client.http.open(
        kwargs["url"],
        method=kwargs["method"],
        headers=kwargs.get("headers"),
        query_string=kwargs.get("params"),
        **{k: kwargs[k] for k in ("json", "data") if k in kwargs},
    )
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@SETTINGS
def test_fuzz_as_the_anonymous(app: Flask, world: World, case: Any) -> None:
    _run(app, world, case, "anonymous")


@schema.parametrize()
@SETTINGS
def test_fuzz_as_a_physician_in_an_attempt(app: Flask, world: World, case: Any) -> None:
    _run(app, world, case, "physician")


@schema.parametrize()
@SETTINGS
def test_fuzz_as_a_physician_on_their_own_attempt(app: Flask, world: World, case: Any) -> None:
    _run(app, world, case, "physician", own=True)


@schema.parametrize()
@SETTINGS
def test_fuzz_as_an_administrator(app: Flask, world: World, case: Any) -> None:
    _run(app, world, case, "admin")


@schema.parametrize()
@SETTINGS
def test_fuzz_as_an_administrator_on_the_worlds_own_ids(
    app: Flask, world: World, case: Any
) -> None:
    _run(app, world, case, "admin", own=True)
