"""Text rules for Kazakh and Russian strings.

A word mixing Latin and Cyrillic letters is a typing error, most often a Latin ``i`` typed for the
Kazakh ``і`` (or a Latin ``a``/``o``/``e`` for the Cyrillic look-alike).
"""
from __future__ import annotations

import re

__all__ = ["mixed_script_word", "check_one_script_per_word"]

_WORD = re.compile(r"[A-Za-z\u0400-\u04FF]+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z]")


def mixed_script_word(text: str) -> str | None:
    """The first word of ``text`` that mixes Latin and Cyrillic letters, or None."""
    for word in _WORD.findall(text):
        if _CYRILLIC.search(word) and _LATIN.search(word):
            return word
    return None


def check_one_script_per_word(text: str) -> str:
    """Return ``text``; raise ValueError naming the first word that mixes scripts."""
    word = mixed_script_word(text)
    if word is not None:
        raise ValueError(f"the word {word!r} mixes Latin and Cyrillic letters (a Latin i for і?)")
    return text
