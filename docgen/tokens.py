"""Verification tokens: the code printed under the QR, which a person may have to type.

A token is 26 random Crockford base32 characters (130 bits) followed by 2 check characters:
28 characters of ``0-9 A-Z`` without ``I L O U``, so nothing on paper can be read two ways
(no O/0, no I/l/1). The QR's URL carries this canonical form, ungrouped and upper case; the
footer prints it in groups of four (``7QKM-2XJ4-…``), which is how people read and type it.

`canonical_token` reads what a person typed (or a scanner decoded) the way Crockford decoding
does: case does not matter, spaces and dashes are ignored, I and L are read as 1, O as 0 — and
also the Cyrillic letters that look like Latin ones (a Kazakh or Russian keyboard layout left on),
full-width forms (NFKC). The check characters then tell a mistyped code from an unknown one before
any database is asked: every single wrong character and every swap of two characters one or two
places apart changes the check value (a weighted sum modulo the prime 1021, weights 1…26).

Standard library only: the web layer imports this without loading the QR or drawing code.
"""
from __future__ import annotations

import re
import secrets
import unicodedata

__all__ = ["ALPHABET", "TOKEN_LENGTH", "TokenError", "new_token", "canonical_token", "format_token",
           "is_canonical_token"]

#: Crockford's base32 alphabet: digits and the Latin capitals without I, L, O and U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 26                      # 130 random bits
CHECK_CHARS = 2                        # 10 bits: the check value modulo 1021
TOKEN_LENGTH = RANDOM_CHARS + CHECK_CHARS
GROUP = 4
_MODULUS = 1021                        # prime, below 32 ** 2

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford's decoding reads I and L as one, O as zero; the Cyrillic capitals that look like
# Latin ones (and the Kazakh/Ukrainian І) are read as those.
_READ_AS = {"I": "1", "L": "1", "O": "0",
            "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "0", "Р": "P",
            "С": "C", "Т": "T", "Х": "X", "І": "1", "Ӏ": "1"}
# spaces and every kind of dash (a word processor turns - into – or ‑) are separators
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u00ad_.]+")
_CANONICAL = re.compile(f"[{ALPHABET}]{{{TOKEN_LENGTH}}}")


class TokenError(ValueError):
    """Not a verification code. ``reason``: ``"length"`` (too few or too many characters),
    ``"character"`` (a character outside the alphabet) or ``"check"`` (the check characters do
    not match: a character is mistyped)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _check(values: list[int]) -> str:
    total = sum(weight * v for weight, v in enumerate(values, start=1)) % _MODULUS
    return ALPHABET[total // 32] + ALPHABET[total % 32]


def new_token() -> str:
    """A fresh token in canonical form: 26 random characters (130 bits) + 2 check characters."""
    values = [secrets.randbelow(32) for _ in range(RANDOM_CHARS)]
    return "".join(ALPHABET[v] for v in values) + _check(values)


def canonical_token(text: str) -> str:
    """The canonical token a person meant by ``text`` (typed, pasted or decoded; grouped or not,
    any case). `TokenError` if it cannot be one: wrong length, a foreign character, or check
    characters that do not match."""
    if not isinstance(text, str):
        raise TokenError("character", "a verification code is text")
    if len(text) > 4 * TOKEN_LENGTH:
        raise TokenError("length", "too long for a verification code")
    plain = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    plain = "".join(_READ_AS.get(c, c) for c in plain)
    if len(plain) != TOKEN_LENGTH:
        raise TokenError("length", f"a verification code has {TOKEN_LENGTH} characters, "
                                   f"this one {len(plain)}")
    if any(c not in _VALUE for c in plain):
        raise TokenError("character", "a verification code has only the digits and the letters "
                                      "A–Z without I, L, O and U")
    values = [_VALUE[c] for c in plain]
    if _check(values[:RANDOM_CHARS]) != plain[RANDOM_CHARS:]:
        raise TokenError("check", "the verification code's check characters do not match")
    return plain


def is_canonical_token(text: str) -> bool:
    """``text`` is a token exactly as `new_token` makes them (what a URL or a record carries)."""
    if not isinstance(text, str) or not _CANONICAL.fullmatch(text):
        return False
    values = [_VALUE[c] for c in text]
    return _check(values[:RANDOM_CHARS]) == text[RANDOM_CHARS:]


def format_token(token: str, separator: str = "-") -> str:
    """The printed form of a canonical token: groups of four, ``7QKM-2XJ4-…-WQ3R``."""
    return separator.join(token[i:i + GROUP] for i in range(0, len(token), GROUP))
