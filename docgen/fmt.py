"""Dates, numbers and sums in words, as a clerk writes them in Kazakh and Russian.

Babel (CLDR) gives the Russian month names and the number symbols; num2words gives the words.
CLDR has the Kazakh month names only in the nominative, while an official Kazakh text declines the
month of a date inside a sentence («2026 жылғы 15 қыркүйектегі № 1184 қаулысы», «2026 жылғы
1 қазаннан бастап 2075 жылғы 30 қыркүйекке дейін»): those forms are the table `KK_MONTHS`. Only
the fixed frame of each phrase («… жылғы», «… года», «теңге»/«тенге») is ours.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from babel import Locale
from babel.dates import format_date
from babel.numbers import parse_pattern
from num2words import num2words

__all__ = [
    "KK_MONTHS", "KazakhCase", "date_long", "date_kk", "date_short", "decimal", "money",
    "money_in_words", "area_ha", "metres", "kk_genitive", "nobreak",
]

_NUM2WORDS_LANG = {"kk": "kz", "ru": "ru"}


class KazakhCase(StrEnum):
    """The form a Kazakh date takes in a sentence (the month name carries the ending)."""

    #: «2026 жылғы 15 қыркүйек» — a date standing alone (a field's value)
    NOMINATIVE = "nominative"
    #: «2026 жылғы 15 қыркүйектегі № 1184 қаулысы» — locative + -ғы/-гі: the date of something
    LOCATIVE = "locative"
    #: «2026 жылғы 1 қазаннан бастап» — ablative: from
    ABLATIVE = "ablative"
    #: «2075 жылғы 30 қыркүйекке дейін» — dative: until
    DATIVE = "dative"


#: Each month: nominative, locative (-дағы/-дегі/-тағы/-тегі), ablative (-нан/-нен after м н ң,
#: -дан/-ден after a vowel or a voiced consonant, -тан/-тен after a voiceless one), dative
#: (-ға/-ге, -қа/-ке after a voiceless consonant). Back vowels (а о ұ ы) take the first ending of
#: each pair, front vowels (ә е ө ү і) the second. tests/test_kazakh_dates.py checks every row
#: against that rule and renders a date of every month in each form.
KK_MONTHS: tuple[tuple[str, str, str, str], ...] = (
    ("қаңтар", "қаңтардағы", "қаңтардан", "қаңтарға"),
    ("ақпан", "ақпандағы", "ақпаннан", "ақпанға"),
    ("наурыз", "наурыздағы", "наурыздан", "наурызға"),
    ("сәуір", "сәуірдегі", "сәуірден", "сәуірге"),
    ("мамыр", "мамырдағы", "мамырдан", "мамырға"),
    ("маусым", "маусымдағы", "маусымнан", "маусымға"),
    ("шілде", "шілдедегі", "шілдеден", "шілдеге"),
    ("тамыз", "тамыздағы", "тамыздан", "тамызға"),
    ("қыркүйек", "қыркүйектегі", "қыркүйектен", "қыркүйекке"),
    ("қазан", "қазандағы", "қазаннан", "қазанға"),
    ("қараша", "қарашадағы", "қарашадан", "қарашаға"),
    ("желтоқсан", "желтоқсандағы", "желтоқсаннан", "желтоқсанға"),
)
_CASE_COLUMN = {case: i for i, case in enumerate(KazakhCase)}


def date_kk(d: dt.date, case: KazakhCase | str = KazakhCase.NOMINATIVE) -> str:
    """«2026 жылғы 15 қыркүйек» and its forms: locative «… 15 қыркүйектегі», ablative
    «… 1 қазаннан», dative «… 30 қыркүйекке» (the year stays «… жылғы»)."""
    month = KK_MONTHS[d.month - 1][_CASE_COLUMN[KazakhCase(case)]]
    return f"{d.year} жылғы {d.day} {month}"


@functools.lru_cache(maxsize=1024)
def date_long(d: dt.date, lang: str, case: KazakhCase | str = KazakhCase.NOMINATIVE) -> str:
    """kk «2026 жылғы 21 қараша» (or a declined form, `date_kk`), ru «21 ноября 2026 года».

    Kept for the last 1,024 dates asked for (a pure function of immutable values; most documents
    of a day carry that day's date): Babel's formatting of a Russian date took ~0.1 ms."""
    if lang == "kk":
        return date_kk(d, case)
    return format_date(d, "d MMMM y 'года'", locale="ru")


def date_short(d: dt.date) -> str:
    """dd.mm.yyyy, the same in both languages."""
    return d.strftime("%d.%m.%Y")


@functools.lru_cache(maxsize=32)
def _number_format(pattern: str, lang: str):
    """Babel's locale and parsed pattern, what ``format_decimal`` looks up on every call."""
    return Locale.parse(lang), parse_pattern(pattern)


def decimal(value: Decimal | float, lang: str, places: int | None = None) -> str:
    """Grouped digits and a decimal comma: 12 345,50. `places` fixes the number of decimals.
    (Babel's ``format_decimal``, with its locale and pattern parsed once.)"""
    pattern = "#,##0.######" if places is None else "#,##0" + ("." + "0" * places if places else "")
    locale, number_pattern = _number_format(pattern, lang)
    return number_pattern.apply(value, locale)


def money(value: Decimal, lang: str) -> str:
    return decimal(value, lang, places=2)


def area_ha(value: Decimal, lang: str) -> str:
    return decimal(value, lang, places=4)


def metres(value: float, lang: str) -> str:
    return decimal(Decimal(str(round(value, 2))), lang, places=2)


def money_in_words(value: Decimal, lang: str, *, capitalize: bool = True) -> str:
    """«Бес миллион … теңге 50 тиын» / «Пять миллионов … тенге 50 тиын».

    Whole tenge in words, tiyn as two digits: the form used in Kazakhstan's payment documents.
    ``capitalize=False`` for the words in brackets after the figure («3 287 376,25 тенге (три
    миллиона … тенге 25 тиын)»)."""
    value = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    tenge = int(value)
    tiyn = int((value - tenge) * 100)
    words = num2words(tenge, lang=_NUM2WORDS_LANG[lang]).replace("ё", "е")  # RK legal texts: е
    currency = "теңге" if lang == "kk" else "тенге"
    text = f"{words} {currency} {tiyn:02d} тиын"
    return text[0].upper() + text[1:] if capitalize else text


# --- Kazakh genitive -------------------------------------------------------------------------

_KK_VOWELS_BACK = set("аоұыяё")
_KK_VOWELS_FRONT = set("әеөүіэию")
_KK_VOWELS = _KK_VOWELS_BACK | _KK_VOWELS_FRONT | {"у"}
_KK_VOICELESS = set("птқкфсшщхцчһбвгд")  # б в г д devoice at the end of a word
_KK_AFTER_D = set("жзлрйу")


def kk_genitive(phrase: str) -> str | None:
    """The phrase with its last word in the genitive («… серіктестігі» → «… серіктестігінің»,
    «Сәрсенбаев Нұрлан Қайратұлы» → «… Қайратұлының»), or None when the last word is not a
    Cyrillic word in lower case or capitalised (a closing quote, an abbreviation such as «ЖШС», a
    number): such a phrase is not declined (the caller writes it in apposition instead).

    The ending: -ның/-нің after a vowel or м н ң; -дың/-дің after ж з л р й у; -тың/-тің after a
    voiceless consonant (б в г д are voiceless at the end of a word); back or front by the last
    vowel of the word."""
    words = phrase.rstrip().rsplit(" ", 1)
    if not re.fullmatch(r"[А-ЯӘҒҚҢӨҰҮҺІЁ]?[а-яәғқңөұүһіё]+", words[-1]) or len(words[-1]) < 2:
        return None
    last = words[-1].lower()
    vowels = [c for c in last if c in _KK_VOWELS_BACK or c in _KK_VOWELS_FRONT]
    front = bool(vowels) and vowels[-1] in _KK_VOWELS_FRONT
    final = last[-1]
    if final in _KK_VOWELS or final in "мнң":
        ending = "нің" if front else "ның"
        if final in "у":
            ending = "дің" if front else "дың"
    elif final in _KK_AFTER_D:
        ending = "дің" if front else "дың"
    elif final in _KK_VOICELESS:
        ending = "тің" if front else "тың"
    else:
        return None
    return phrase.rstrip() + ending


# --- line breaks -----------------------------------------------------------------------------

_ID_HYPHEN = re.compile(r"(?<=\d)-(?=\w)|(?<=\w)-(?=\d)")


def nobreak(text: str) -> str:
    """Keep numbers and identifiers whole at a line end: «№ 1184» gets a no-break space, a hyphen
    next to a digit («03-047-009-1234», «2026-0012345», «№ 370-II», «16-тармағы») a no-break
    hyphen (U+2011; LibreOffice draws it with the font's hyphen, the PDF text shows «-»)."""
    return _ID_HYPHEN.sub("\u2011", text.replace("№ ", "№\u00a0"))
