"""The candidate's form before starting (进入测评), read with ``web.errors.form_model``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class PrepareForm(BaseModel):
    """人脸信息采集授权 (``consent=yes``) or 开始考试 with 考前须知 ticked (``rules``)."""

    consent: Literal["yes"] | None = None
    rules: bool = False
