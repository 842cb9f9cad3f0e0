"""Dates, numbers and sums in words, as a clerk writes them in Kazakh and Russian.

Babel (CLDR) gives month names and number symbols; num2words gives the words. Only the fixed
frame of each phrase («… жылғы», «… года», «теңге»/«тенге») is ours.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date
from babel.numbers import format_decimal
from num2words import num2words

__all__ = ["date_long", "decimal", "money", "money_in_words", "area_ha", "metres"]

_NUM2WORDS_LANG = {"kk": "kz", "ru": "ru"}


def date_long(d: dt.date, lang: str) -> str:
    """kk «2026 жылғы 21 қараша», ru «21 ноября 2026 года»."""
    if lang == "kk":
        return format_date(d, "y 'жылғы' d MMMM", locale="kk")
    return format_date(d, "d MMMM y 'года'", locale="ru")


def date_short(d: dt.date) -> str:
    """dd.mm.yyyy, the same in both languages."""
    return d.strftime("%d.%m.%Y")


def decimal(value: Decimal | float, lang: str, places: int | None = None) -> str:
    """Grouped digits and a decimal comma: 12 345,50. `places` fixes the number of decimals."""
    if places is None:
        return format_decimal(value, format="#,##0.######", locale=lang)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale=lang)


def money(value: Decimal, lang: str) -> str:
    return decimal(value, lang, places=2)


def area_ha(value: Decimal, lang: str) -> str:
    return decimal(value, lang, places=4)


def metres(value: float, lang: str) -> str:
    return decimal(Decimal(str(round(value, 2))), lang, places=2)


def money_in_words(value: Decimal, lang: str) -> str:
    """«Бес миллион … теңге 50 тиын» / «Пять миллионов … тенге 50 тиын».

    Whole tenge in words, tiyn as two digits: the form used in Kazakhstan's payment documents.
    """
    value = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    tenge = int(value)
    tiyn = int((value - tenge) * 100)
    words = num2words(tenge, lang=_NUM2WORDS_LANG[lang])
    currency = "теңге" if lang == "kk" else "тенге"
    text = f"{words} {currency} {tiyn:02d} тиын"
    return text[0].upper() + text[1:]
