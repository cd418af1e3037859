"""The OpenAPI part of the camera feature's endpoints (assembled by ``examsvc.web.openapi``)."""

from __future__ import annotations

from examsvc.web.openapi import Part, operation

PART = Part(
    paths={
        "/api/v1/exam/consent": {
            "post": operation("人脸信息采集授权 (consent to face data, once per cycle)")
        },
    },
)
