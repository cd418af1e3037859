"""The one error mapping and the one pydantic-error formatter (examsvc/errors.py,
examsvc/web/errors.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError
from werkzeug.datastructures import MultiDict

from examsvc.clock import BEIJING
from examsvc.errors import DomainError, Invalid, field_errors
from examsvc.papers.schemas import BeijingTime
from examsvc.web.errors import error_ack, error_body, form_model


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def domain_errors() -> list[type[DomainError]]:
    """Every DomainError class of examsvc that the app loads (the ``app`` fixture built it)."""
    return sorted(
        {c for c in _subclasses(DomainError) if c.__module__.startswith("examsvc.")},
        key=lambda c: c.__qualname__,
    )


def test_every_domain_error_maps_to_its_status_through_the_one_handler(app):
    classes = domain_errors()
    assert len(classes) >= 10  # Refused, Conflict, Invalid, ApiError and the features' own
    for cls in [DomainError, *classes]:
        exc = cls.__new__(cls)
        DomainError.__init__(exc, "some_code", "请求有误")
        assert 400 <= exc.status < 600, cls
        with app.test_request_context("/api/v1/anything"):
            response = app.make_response(app.handle_user_exception(exc))
            ack = error_ack(exc)
        assert response.status_code == exc.status, cls
        assert (
            response.get_json()
            == error_body(exc)
            == {"error": {"code": "some_code", "message": "请求有误", "details": []}}
        ), cls
        assert ack == {"ok": False, "status": exc.status, **error_body(exc)}, cls


class Sample(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=1)
    items: list[int] = []


@pytest.mark.parametrize(
    ("data", "details"),
    [
        ({"count": 1}, [{"field": "name", "message": "必须填写"}]),
        (
            {"name": "", "count": 0},
            [
                {"field": "name", "message": "不能为空"},
                {"field": "count", "message": "不能小于 1"},
            ],
        ),
        (
            {"name": "a", "count": "x", "items": ["y"]},
            [
                {"field": "count", "message": "应为整数"},
                {"field": "items.0", "message": "应为整数"},
            ],
        ),
        ([1], [{"field": "-", "message": "应为对象"}]),
    ],
)
def test_pydantic_errors_are_said_in_chinese_field_by_field(data, details):
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data)
    assert field_errors(caught.value) == details


class Choice(BaseModel):
    procedure: Literal["general", "simple"]
    born: date | None = None
    remark: Literal["a"] | None = None


def test_a_refused_choice_or_date_names_the_value_given_never_free_text():
    """A registry item or a form with procedure "surgery" is told so, not "空值"."""
    with pytest.raises(ValidationError) as caught:
        Choice.model_validate({"procedure": "surgery", "born": "1980-13-01"})
    messages = {d["field"]: d["message"] for d in field_errors(caught.value)}
    assert messages["procedure"] == "“surgery” 不是允许的取值"
    assert messages["born"].startswith("“1980-13-01” 不是有效日期")
    with pytest.raises(ValidationError) as caught:
        Choice.model_validate(
            {"procedure": "", "remark": "某某医院 张三 的说明，很长很长的自由文本，" * 3}
        )
    messages = {d["field"]: d["message"] for d in field_errors(caught.value)}
    assert messages["procedure"] == "空值 不是允许的取值"
    assert messages["remark"] == "空值 不是允许的取值"  # long text is never echoed


class Filter(BaseModel):
    start: BeijingTime
    tags: list[str] = []
    done: bool = False
    note: str = "无"


def test_a_form_takes_the_same_pydantic_path_as_json(app):
    form = MultiDict(
        [("start", "2026-05-11T09:00"), ("tags", "a"), ("tags", "b"), ("done", "on"), ("note", " ")]
    )
    got = form_model(Filter, form)
    assert got == Filter(
        start=datetime(2026, 5, 11, 9, tzinfo=BEIJING), tags=["a", "b"], done=True, note="无"
    )
    with pytest.raises(Invalid) as caught:
        form_model(Filter, MultiDict([("start", "明天")]))
    assert caught.value.status == 422
    assert caught.value.details == [{"field": "start", "message": "不是有效时间"}]


def _dropped() -> Exception:
    """What SQLAlchemy raises when PostgreSQL closed the connection under a query."""
    import sqlalchemy as sa

    return sa.exc.OperationalError(
        "SELECT 1", {}, Exception("server closed the connection unexpectedly")
    )


def test_a_lost_database_answers_a_retryable_503_never_a_500(app, client):
    # tests/faults/test_postgres.py terminates the server's connections for real.
    def broken() -> None:
        raise _dropped()

    app.add_url_rule("/api/v1/broken-db", "broken_db", broken)
    app.add_url_rule("/broken-db", "broken_db_page", broken)
    answer = client.get("/api/v1/broken-db")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert answer.json["error"]["code"] == "database_unavailable"
    page = client.get("/broken-db")
    assert page.status_code == 503 and b"Traceback" not in page.data


def test_a_socket_event_on_a_lost_database_is_acknowledged_as_retryable(app):
    from pydantic import BaseModel as Model

    from examsvc.web.sockets import acknowledged

    class Empty(Model):
        pass

    def unit(_: Empty) -> dict:
        raise _dropped()

    with app.test_request_context("/"):
        ack = acknowledged(unit, Empty)({})
    assert ack["ok"] is False and ack["status"] == 503
    assert ack["error"]["code"] == "database_unavailable"


def _database_failures() -> list[tuple[str, Exception, int, str]]:
    import sqlalchemy as sa

    return [
        ("no pooled connection", sa.exc.TimeoutError("QueuePool limit"), 503, "busy"),
        ("data refused", sa.exc.DataError("INSERT", {}, Exception("NUL")), 422, "invalid"),
        ("connection lost", _dropped(), 503, "database_unavailable"),
        ("anything else", sa.exc.ProgrammingError("SELECT", {}, Exception("x")), 500, None),
    ]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [f[1:] for f in _database_failures()],
    ids=[f[0] for f in _database_failures()],
)
def test_a_database_failure_is_answered_the_same_over_http_and_the_socket(
    app, client, exc, status, code
):
    """One mapping (``web.errors.database_failure``) for the HTTP handler and the socket's
    acknowledgement: the same status, code and message on both."""
    from pydantic import BaseModel as Model

    from examsvc.web.sockets import acknowledged

    class Empty(Model):
        pass

    def broken() -> None:
        raise exc

    def unit(_: Empty) -> dict:
        raise exc

    app.add_url_rule("/api/v1/failing-db", "failing_db", broken)
    answer = client.get("/api/v1/failing-db")
    with app.test_request_context("/"):
        ack = acknowledged(unit, Empty)({})
    assert answer.status_code == status
    assert ack == {"ok": False, "status": status, **answer.json}
    assert answer.json["error"]["code"] == (code or "internal_server_error")


def test_a_database_error_never_carries_the_values_it_was_given(app):
    """What a failed statement logs names the statement, not the ID number it was given."""
    import sqlalchemy as sa

    from examsvc.extensions import db

    with pytest.raises(sa.exc.DBAPIError) as failed:
        db.session.execute(
            sa.text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "43010219890313001X"}
        )
    db.session.rollback()
    assert "no_such_table" in str(failed.value)
    assert "43010219890313001X" not in str(failed.value)
