"""The OpenAPI part of the session endpoints (assembled by ``examsvc.web.openapi``)."""

from __future__ import annotations

from examsvc.accounts.schemas import LoginBody
from examsvc.web.openapi import Part, operation

PART = Part(
    paths={
        "/api/v1/session": {
            "get": operation("Who is logged in, and the CSRF token"),
            "post": operation("Log in with an ID number or user name", LoginBody),
            "delete": operation("Log out"),
        }
    },
    bodies=(LoginBody,),
)
