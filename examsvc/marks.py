"""``N_`` marks a Chinese string for the translation catalog where it is written (a table of
labels, an error message kept for later) when it is translated only where it is shown, with
``examsvc.web.i18n.gettext``. It has no imports, so any module (pure rules too) may use it.

With fields, ``N_("第 {n} 行重复", n=3)`` is a :class:`Text`: the Chinese sentence, which
still knows its msgid and fields, so that the page can show it in another language."""

from __future__ import annotations

from typing import Any


class Text(str):
    """A Chinese message with its ``{fields}`` filled (it *is* that string) that keeps its
    msgid and values for ``gettext``. A value that is a Text (a label) is translated too."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Text:
        text = super().__new__(cls, msgid.format(**values) if values else msgid)
        text.msgid = msgid
        text.values = values
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_text, (self.msgid, self.values))


def _text(msgid: str, values: dict[str, Any]) -> Text:
    return Text(msgid, **values)


def N_(text: str, **values: Any) -> str:
    """``text`` unchanged, or with ``values`` a :class:`Text`; ``pybabel extract -k N_``
    collects it (scripts/translations.sh)."""
    return Text(text, **values) if values else text
