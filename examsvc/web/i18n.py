"""Chinese first: the strings are written in Chinese (the source language) and translated
with gettext catalogs through Flask-Babel: ``examsvc/translations/<lang>/LC_MESSAGES``
(``scripts/translations.sh`` extracts, updates and compiles them).

Messages fill ``{name}`` fields after translation: ``gettext("考生 {n} 人", n=3)``. Strings
defined away from where they are shown (labels, error messages) are marked with
``examsvc.marks.N_`` so that extraction finds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_translations, refresh

from examsvc.marks import Text
from examsvc.warm import add as add_warmer

LANGUAGES = ("zh", "en")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def current_language() -> str:
    """The ``lang`` cookie (set by /lang/<code>), else the configured default (zh)."""
    lang = getattr(g, "lang", None)
    if lang is None:
        lang = request.cookies.get("lang") or current_app.config["LANGUAGE"]
        if lang not in LANGUAGES:
            lang = "zh"
        g.lang = lang
    return lang


def gettext(text: str, **values: object) -> str:
    """Translate ``text`` (Chinese) into the request's language and fill ``{name}`` fields;
    a :class:`~examsvc.marks.Text` brings its own msgid and fields (labels among them are
    translated too)."""
    if isinstance(text, Text):
        values = text.values | values
        text = text.msgid
    translated: str = _catalog().ugettext(text)
    if not values:
        return translated
    return translated.format(
        **{k: gettext(v) if isinstance(v, Text) else v for k, v in values.items()}
    )


_ = gettext

CATALOG = "_examsvc_catalog"  # in g: this request's catalog


def _catalog() -> Any:
    """The request's catalog, looked up once a request: Flask-Babel's ``gettext`` looks up
    its domain, the locale and the catalog again for every string (~60 on the exam page).
    Outside an app context, Flask-Babel's: no translation."""
    try:
        return getattr(g, CATALOG)
    except AttributeError:
        catalog = get_translations()
        setattr(g, CATALOG, catalog)
        return catalog
    except RuntimeError:  # no app context
        return get_translations()


def warm(now: object) -> None:
    """Before serving (``examsvc.warm``): every language's catalog read (Babel keeps it)."""
    for lang in LANGUAGES:
        with current_app.test_request_context(headers={"Cookie": f"lang={lang}"}):
            _catalog()


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    # The templates get ``_`` and ``current_language`` from examsvc.web, not Babel's Jinja setup.
    Babel(app, locale_selector=current_language, configure_jinja=False)
    add_warmer(app, warm)

    @app.before_request
    def forget_the_language() -> None:
        # g (where both the choice and Babel's catalog are kept) lives as long as the app
        # context, which may outlive one request.
        g.pop("lang", None)
        g.pop(CATALOG, None)
        refresh()
