"""Masking citizens' personal data on the public page (and its JSON).

Rules:

* An IIN keeps its first six digits (the birth date, as the spec's example ``860314******``)
  and hides the other six: the person is recognisable to someone holding the paper, the number
  cannot be copied from the page.
* A citizen's name becomes the surname and initials: «Сәрсенбаев Нұрлан Қайратұлы» →
  «Сәрсенбаев Н. Қ.» (a separate «ұлы»/«қызы» of a patronymic is dropped, a hyphenated given
  name gives hyphenated initials).
* Free text that officials type (an annulment reason) gets every 12-digit run that is a valid
  IIN masked the same way.
* Organisations (name, BIN) and officials who sign (name, position, organisation) are shown as
  they are: they act in an official capacity. An official's IIN is never shown.
"""
from __future__ import annotations

import re

from kazakhstan.ids import validate_iin

__all__ = ["mask_iin", "mask_name", "mask_free_text"]

# a patronymic written as two words (Қайрат ұлы, Айгүл қызы; Азербайджанские оглы/кызы)
_PATRONYMIC_PARTICLES = {"ұлы", "қызы", "улы", "кызы", "оглы", "оғлы", "уулу", "гызы"}
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")


def mask_iin(iin: str) -> str:
    """``860314******``: the first six digits, the rest hidden. Anything that is not 12 digits
    is hidden whole (one star per character, at least six)."""
    digits = "".join(c for c in str(iin) if not c.isspace())
    if len(digits) == 12 and digits.isdigit():
        return digits[:6] + "*" * 6
    return "*" * max(6, len(digits))


def _initial(word: str) -> str:
    return "-".join(part[0].upper() + "." for part in word.split("-") if part)


def mask_name(full_name: str) -> str:
    """The surname (the first word, as Kazakhstan's documents write names) and initials."""
    words = str(full_name).split()
    if not words:
        return ""
    initials = [_initial(w) for w in words[1:] if w.casefold() not in _PATRONYMIC_PARTICLES]
    return " ".join([words[0], *filter(None, initials)])


def _mask_if_iin(match: re.Match) -> str:
    value = match.group(0)
    try:
        validate_iin(value)
    except ValueError:
        return value
    return mask_iin(value)


def mask_free_text(text: str) -> str:
    """``text`` with every valid IIN in it masked (`mask_iin`)."""
    return _TWELVE_DIGITS.sub(_mask_if_iin, str(text))
