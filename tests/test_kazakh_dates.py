"""Kazakh dates inside a sentence: the month name declined as an official text declines it.

«Қарасай ауданы әкімдігінің 2026 жылғы 15 қыркүйектегі № 1184 қаулысы» (locative + -ғы/-гі),
«2026 жылғы 1 қазаннан бастап 2075 жылғы 30 қыркүйекке дейін» (ablative, dative). The forms are
a table (`docgen.fmt.KK_MONTHS`); here every row is checked against the rule of vowel harmony and
the final sound, and a decision and a term in each month are rendered and read in the PDF.
"""
from __future__ import annotations

import calendar
import datetime as dt

import pytest

from docgen.fmt import KK_MONTHS, KazakhCase, date_kk, date_long
from tests.conftest import run

MONTHS = ["қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым",
          "шілде", "тамыз", "қыркүйек", "қазан", "қараша", "желтоқсан"]
BACK, FRONT = set("аоұы"), set("әеөүі")
VOICELESS = set("кқптсшфхцчщ")
NASAL = set("мнң")


def _back(word: str) -> bool:
    return [c for c in word if c in BACK | FRONT][-1] in BACK


def _rule(word: str, case: KazakhCase) -> str:
    """The ending by the textbook rule, written independently of the table."""
    back, last = _back(word), word[-1]
    if case is KazakhCase.LOCATIVE:  # -да/-де (-та/-те after a voiceless sound) + -ғы/-гі
        stem = "т" if last in VOICELESS else "д"
        return word + stem + ("ағы" if back else "егі")
    if case is KazakhCase.ABLATIVE:
        stem = "т" if last in VOICELESS else "н" if last in NASAL else "д"
        return word + stem + ("ан" if back else "ен")
    if case is KazakhCase.DATIVE:
        if last in VOICELESS:
            return word + ("қа" if back else "ке")
        return word + ("ға" if back else "ге")
    return word


CASES = [KazakhCase.LOCATIVE, KazakhCase.ABLATIVE, KazakhCase.DATIVE]


@pytest.mark.parametrize("month", range(1, 13), ids=MONTHS)
@pytest.mark.parametrize("case", CASES, ids=[c.value for c in CASES])
def test_the_table_follows_vowel_harmony_and_the_final_sound(month, case):
    nominative = MONTHS[month - 1]
    row = KK_MONTHS[month - 1]
    assert row[0] == nominative
    assert row[list(KazakhCase).index(case)] == _rule(nominative, case)


@pytest.mark.parametrize("month", range(1, 13), ids=MONTHS)
def test_date_kk_in_each_case(month):
    d = dt.date(2026, month, 9)
    nom, loc, abl, dat = KK_MONTHS[month - 1]
    assert date_kk(d) == date_long(d, "kk") == f"2026 жылғы 9 {nom}"
    assert date_kk(d, KazakhCase.LOCATIVE) == f"2026 жылғы 9 {loc}"
    assert date_kk(d, "ablative") == f"2026 жылғы 9 {abl}"
    assert date_kk(d, KazakhCase.DATIVE) == f"2026 жылғы 9 {dat}"


def test_the_forms_the_issue_quotes():
    assert date_kk(dt.date(2026, 9, 15), KazakhCase.LOCATIVE) == "2026 жылғы 15 қыркүйектегі"
    assert date_kk(dt.date(2026, 10, 1), KazakhCase.ABLATIVE) == "2026 жылғы 1 қазаннан"
    assert date_kk(dt.date(2075, 9, 30), KazakhCase.DATIVE) == "2075 жылғы 30 қыркүйекке"
    assert date_kk(dt.date(2026, 11, 12), KazakhCase.LOCATIVE) == "2026 жылғы 12 қарашадағы"
    # the nominative is CLDR's month name, as before
    from babel.dates import format_date

    for month in range(1, 13):
        assert KK_MONTHS[month - 1][0] == format_date(dt.date(2026, month, 1), "MMMM", locale="kk")


# --- rendered: a decision and a term in every month ------------------------------------------------

def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = run("pdftotext", str(path), "-")
    assert out.returncode == 0
    return " ".join(out.stdout.decode().replace("\u00a0", " ").split())


@pytest.mark.slow
@pytest.mark.parametrize("month", range(1, 13), ids=MONTHS)
def test_a_decision_and_a_term_in_each_month_render_declined(renderer, make_request, tmp_path, month):
    from docgen.request import parse_request

    raw = make_request("land_right_act", "kk")
    last_day = calendar.monthrange(2035, month)[1]
    raw["data"]["basis"]["date"] = f"2025-{month:02d}-15"
    raw["data"]["term"] = {"start": f"2025-{month:02d}-01", "end": f"2035-{month:02d}-{last_day}"}
    text = _pdf_text(renderer.render(parse_request(raw, today=dt.date(2026, 11, 29))).pdf, tmp_path)
    _, loc, abl, dat = KK_MONTHS[month - 1]
    assert f"Қарасай ауданы әкімдігінің 2025 жылғы 15 {loc} № 1184 қаулысы" in text
    assert f"2025 жылғы 1 {abl} бастап 2035 жылғы {last_day} {dat} дейін (10 жыл)" in text
    assert " ж. " not in text  # no short «dd.mm.yyyy ж.» date left in a sentence
