"""Masking rules and the choice of language, without a server."""
from __future__ import annotations

import re

import pytest

from kazakhstan.script import mixed_script_word
from qujat.web.i18n import ENUM_EN, LANGS, MESSAGES, OPERATIONS, TITLES, negotiate
from qujat.web.mask import mask_free_text, mask_iin, mask_name


def test_an_iin_keeps_its_birth_date_and_hides_the_rest():
    assert mask_iin("860314300122") == "860314******"
    assert mask_iin(" 850314300122 ") == "850314******"
    assert mask_iin("12345") == "******"                 # not an IIN: nothing of it shown
    assert mask_iin("") == "******"


@pytest.mark.parametrize("full,masked", [
    ("Сәрсенбаев Нұрлан Қайратұлы", "Сәрсенбаев Н. Қ."),
    ("Оспанов Данияр", "Оспанов Д."),
    ("Ахметова Айгүл Серік қызы", "Ахметова А. С."),      # «қызы» written apart is no initial
    ("Иванова Анна-Мария Петровна", "Иванова А.-М. П."),
    ("  Бекова   әсел  ", "Бекова Ә."),
    ("Жақсылықов", "Жақсылықов"),
    ("", ""),
])
def test_a_citizens_name_becomes_surname_and_initials(full, masked):
    assert mask_name(full) == masked


def test_free_text_has_its_iins_masked_and_nothing_else():
    text = "Қаулы № 1290, ЖСН 850314300122; БСН 050640001236; тел. 87011234567; 1234567890123"
    masked = mask_free_text(text)
    assert "850314300122" not in masked and "850314******" in masked
    # a BIN, a phone number, a 13-digit run are not IINs and stay as they are
    assert "050640001236" in masked and "87011234567" in masked and "1234567890123" in masked


@pytest.mark.parametrize("asked,header,expected", [
    ("en", "ru-RU,ru;q=0.9", "en"),                    # a link's ?lang= wins
    ("RU", None, "ru"),
    ("de", "ru", "ru"),                                # not ours: the header decides
    (None, "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
    (None, "en-GB,en;q=0.9,kk;q=0.8", "en"),
    (None, "de-DE,de;q=0.9,ru;q=0.5,kk;q=0.6", "kk"),  # the higher q of ours
    (None, "kk-KZ", "kk"),
    (None, "ru;q=0, en;q=0.1", "en"),                   # q=0 means "not this one"
    (None, "de, fr;q=0.9, *;q=0.1", "kk"),              # none of ours: Kazakh
    (None, "", "kk"),
    (None, None, "kk"),
    (None, "ru;q=abc, en;q=2, x-;;;=, ,", "kk"),         # nonsense is ignored
])
def test_the_language_is_the_links_then_the_browsers_then_kazakh(asked, header, expected):
    assert negotiate(asked, header) == expected


def test_every_phrase_is_in_three_languages_and_kazakh_is_written_in_cyrillic():
    for key, phrases in MESSAGES.items():
        assert set(phrases) == set(LANGS), key
    for table in (MESSAGES, OPERATIONS):
        for key, phrases in table.items():
            for lang in ("kk", "ru"):
                if phrases[lang]:
                    assert mixed_script_word(phrases[lang]) is None, (key, lang, phrases[lang])
                    # no Latin letters at all outside the few abbreviations and placeholders
                    latin = re.sub(r"\{\w+\}|PDF|SHA-256|UTC|QR", "", phrases[lang])
                    assert not re.search(r"[A-Za-z]", latin), (key, lang, phrases[lang])
            assert not re.search(r"[\u0400-\u04ff]", phrases["en"]), key
    kazakh = " ".join(p["kk"] for p in MESSAGES.values())
    assert set("әғқңөұүі") <= set(kazakh)             # really Kazakh, not Russian in disguise
    assert all("en" in v for v in TITLES.values()) and all(ENUM_EN.values())
