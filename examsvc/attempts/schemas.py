"""The candidate's form before starting (进入测评), read with ``web.errors.form_model``."""

from __future__ import annotations

from pydantic import BaseModel


class PrepareForm(BaseModel):
    """开始考试 with 考前须知 ticked (``rules``); consent is the camera feature's step."""

    rules: bool = False
