"""ID numbers (证件号码): one account key for the 15- and 18-digit forms and either case of X.

A mainland resident ID has 18 characters: 6-digit area, 8-digit birth date, 3-digit
sequence, and a check digit (ISO 7064 MOD 11-2, ``X`` for 10). Older ones have 15 digits:
the birth year without its century and no check digit. 18→15 drops the ``19`` and the
check digit, so the 18-digit form is the key: a 15-digit number maps to it.
"""

from __future__ import annotations

import re

from examsvc.marks import N_

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RESIDENT_18 = re.compile(r"^\d{17}[\dX]$")
_RESIDENT_15 = re.compile(r"^\d{15}$")


class InvalidIdNumber(ValueError):
    """A resident ID number that cannot be right; ``message`` is for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_digit(body17: str) -> str:
    total = sum(int(d) * w for d, w in zip(body17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise(raw: str) -> str:
    """Upper case, without spaces (full-width characters folded to ASCII)."""
    folded = raw.translate({0x3000: 0x20} | {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    return re.sub(r"\s+", "", folded).upper()


def id_key(raw: str) -> str:
    """The account key: the 18-digit form of a resident ID, else the normalised number.

    Raises :class:`InvalidIdNumber` for an 18-digit number with a wrong check digit.
    """
    number = normalise(raw)
    if _RESIDENT_15.match(number):
        body = number[:6] + "19" + number[6:]
        return body + check_digit(body)
    if _RESIDENT_18.match(number):
        expected = check_digit(number[:17])
        if number[17] != expected:
            raise InvalidIdNumber(
                N_("身份证号码最后一位校验码不正确，请核对后重新输入（如末位为 X，大小写均可）")
            )
        return number
    return number


def to_15(number18: str) -> str:
    """The 15-digit form of an 18-digit resident ID born in the 1900s."""
    return number18[:6] + number18[8:17]


def mask(number: str) -> str:
    """``452*****3193``: enough to tell people apart in a list, not enough to misuse."""
    if len(number) <= 7:
        return "*" * len(number)
    return f"{number[:3]}*****{number[-4:]}"
