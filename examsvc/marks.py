"""``N_`` marks a Chinese string for the translation catalog where it is written (a table of
labels, an error message kept for later) when it is translated only where it is shown, with
``examsvc.web.i18n.gettext``. It has no imports, so any module (pure rules too) may use it."""

from __future__ import annotations


def N_(text: str) -> str:
    """``text`` unchanged; ``pybabel extract`` collects it (N_ is one of its default keywords)."""
    return text
