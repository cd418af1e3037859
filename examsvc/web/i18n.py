"""Chinese first: strings are written in Chinese; English comes from per-feature tables.

A feature registers its English table with ``register({"考核安排": "Schedule", ...})``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app, g, request

LANGUAGES = ("zh", "en")
_EN: dict[str, str] = {}


def register(table: Mapping[str, str]) -> None:
    _EN.update(table)


def current_language() -> str:
    lang = getattr(g, "lang", None)
    if lang is None:
        lang = request.cookies.get("lang") or current_app.config["LANGUAGE"]
        if lang not in LANGUAGES:
            lang = "zh"
        g.lang = lang
    return lang


def gettext(text: str, **values: object) -> str:
    """Translate ``text`` (Chinese) into the request's language and fill ``{name}`` fields."""
    if current_language() == "en":
        text = _EN.get(text, text)
    return text.format(**values) if values else text


_ = gettext
