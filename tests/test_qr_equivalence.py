"""The fast QR encoder (docgen.qr) against the qrcode library it reproduces: the same matrix,
module for module, at every error correction level and over the whole range of versions (the
data codewords come from qrcode, but the module layout, the masks and the mask of least penalty
are computed differently, so they are checked where they differ most: large versions, version
information, every mode)."""
import random

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

from docgen.qr import new_token, qr_matrix, verification_url

LEVELS = (ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q, ERROR_CORRECT_H)


def _reference(text: str, level: int) -> tuple[int, list[list[bool]]]:
    ref = qrcode.QRCode(error_correction=level)
    ref.add_data(text)
    ref.make(fit=True)
    return ref.version, ref.modules


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_matches_qrcode(level):
    rnd = random.Random(level)
    alphabets = ("abcXYZ0123 -/:", "0123456789", "ABC0123 $%*+-./:", "Жер учаскесі әғқңөұүһі")
    texts = [verification_url("https://qujat.example.kz", new_token()) for _ in range(10)]
    texts += ["".join(rnd.choice(a) for _ in range(rnd.randint(1, 400))) for a in alphabets for _ in range(6)]
    for text in texts:
        assert qr_matrix(text, error_correction=level) == _reference(text, level)[1], text


def test_the_largest_versions_match_qrcode():
    """Versions up to 40 (177 modules a side, 81 blocks at level H): the layout cache and the
    block interleaving at their largest."""
    versions = set()
    for size, level in ((2300, ERROR_CORRECT_L), (1200, ERROR_CORRECT_H), (700, ERROR_CORRECT_M)):
        text = "".join(random.Random(size).choice("abcdefgh0123 ") for _ in range(size))
        version, modules = _reference(text, level)
        versions.add(version)
        assert qr_matrix(text, error_correction=level) == modules
    assert max(versions) >= 39

