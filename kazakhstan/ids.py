"""Kazakhstan identifiers: IIN, BIN and the cadastral number of a land plot.

Check-digit algorithm (official-forms.md §4.4): a12 = sum(ai * i) mod 11 for i = 1..11; if that
is 10, recompute with weights 3..11, 1, 2; if it is 10 again the number is never issued.
"""
from __future__ import annotations

import datetime as dt
import re

from kazakhstan.dates import today_in

__all__ = ["check_digit", "validate_iin", "validate_bin", "normalize_cadastral_number", "iin_birth_date"]

_W1 = tuple(range(1, 12))
_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def check_digit(first11: str) -> int | None:
    """The control digit of an IIN/BIN from its first 11 digits, or None if no number may end so."""
    digits = [int(c) for c in first11]
    for weights in (_W1, _W2):
        r = sum(d * w for d, w in zip(digits, weights)) % 11
        if r != 10:
            return r
    return None


def _ascii_digits(value: str, what: str) -> None:
    """Other scripts' digits (Arabic-Indic, full-width), kept as typed, would match no
    certificate and be printed so: the patterns below refuse them, this names the cause."""
    if not value.isascii():
        raise ValueError(f"{what} must be written with the digits 0-9")


def _twelve_digits(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string of 12 digits")
    _ascii_digits(value, what)
    v = value.strip()
    if not re.fullmatch(r"[0-9]{12}", v):
        raise ValueError(f"{what} must be exactly 12 digits, got {len(v)} characters")
    expected = check_digit(v[:11])
    if expected is None:
        raise ValueError(f"{what} {v} cannot exist: its control digit computes to 10 twice")
    if expected != int(v[11]):
        raise ValueError(f"{what} {v} has a wrong control digit: expected {expected}, got {v[11]}")
    return v


def iin_birth_date(iin: str) -> dt.date:
    """Birth date encoded in an IIN: YYMMDD, century from digit 7 (1-2: 1800s, 3-4: 1900s, 5-6: 2000s)."""
    century_digit = int(iin[6])
    if century_digit not in range(1, 7):
        raise ValueError(f"IIN digit 7 (century and sex) must be 1-6, got {century_digit}")
    century = 1800 + 100 * ((century_digit - 1) // 2)
    try:
        return dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        raise ValueError(f"IIN {iin} does not start with a valid birth date (YYMMDD)") from None


def validate_iin(value: str, *, today: dt.date | None = None) -> str:
    """Return the IIN if valid; raise ValueError with a reason a clerk understands otherwise."""
    v = _twelve_digits(value, "IIN")
    born = iin_birth_date(v)
    if born > (today or today_in()):
        raise ValueError(f"IIN {v} encodes a birth date in the future ({born.isoformat()})")
    return v


def validate_bin(value: str) -> str:
    """Return the BIN if valid. Digits 3-4 are the registration month, digit 5 the entity type."""
    v = _twelve_digits(value, "BIN")
    if not 1 <= int(v[2:4]) <= 12:
        raise ValueError(f"BIN {v}: digits 3-4 must be the registration month 01-12")
    if v[4] not in "456":
        raise ValueError(f"BIN {v}: digit 5 must be 4, 5 or 6 (type of legal entity), got {v[4]}")
    return v


_CADASTRAL = re.compile(r"([0-9]{2})[-: ]?([0-9]{3})[-: ]?([0-9]{3})[-: ]?([0-9]{1,7})")


def normalize_cadastral_number(value: str) -> str:
    """`20:311:009:1234`, `20 311 009 1234` or `20-311-009-1234` → `20-311-009-1234`.

    Layout AA-BBB-CCC-N… (oblast, district, quarter, plot; official-forms.md §5.2); the last
    group has no fixed length, so it is kept as given.
    """
    if isinstance(value, str):
        _ascii_digits(value, "cadastral number")
    v = (value or "").strip()
    m = _CADASTRAL.fullmatch(v)
    seps = set(re.findall(r"[-: ]", v))
    if not m or len(seps) > 1:
        raise ValueError(
            "cadastral number must look like 20-311-009-1234 "
            "(2, 3 and 3 digits, then the plot number; separators '-' or ':')"
        )
    return "-".join(m.groups())
