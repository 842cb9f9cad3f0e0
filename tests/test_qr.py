import io
import re
import shutil
import subprocess

import pytest
from PIL import Image

from docgen.qr import PRINT_WIDTH_MM, format_token, new_token, qr_matrix, qr_png, verification_url
from docgen.tokens import ALPHABET, TokenError, canonical_token, is_canonical_token


def needs_zbar(fn):
    """zbar-tools is installed by `make deps`; its absence is a failure, never a skip."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        assert shutil.which("zbarimg"), "zbarimg (zbar-tools) is not installed: run make deps"
        return fn(*a, **kw)
    return wrapper


def _decode(png: bytes, tmp_path) -> str:
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    res = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return res.stdout.decode("utf-8").rstrip("\n")


@needs_zbar
def test_qr_roundtrip_verification_url(tmp_path):
    url = verification_url("https://qujat.example.kz/", new_token())
    assert _decode(qr_png(url), tmp_path) == url


@needs_zbar
def test_qr_roundtrip_non_ascii(tmp_path):
    text = "Жер учаскесі 01-234-056-789 — акт"
    res_png = qr_png(text, box_size=6, border=4)
    assert _decode(res_png, tmp_path) == text


def test_qr_png_geometry():
    png = qr_png("https://e.kz/v/abc", box_size=10, border=4)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    w, h = img.size
    assert w == h
    modules = w // 10
    assert w % 10 == 0 and (modules - 8 - 21) % 4 == 0  # version v: 17 + 4v modules
    px = img.convert("L")
    # quiet zone is white, the finder pattern's corner is black
    assert px.getpixel((0, 0)) == 255 and px.getpixel((39, 39)) == 255
    assert px.getpixel((40, 40)) == 0


def test_matrix_is_the_one_the_qrcode_library_makes():
    """Same version, same mask, module for module — for verification URLs, long texts (versions
    past 7 carry version information), digits, and Cyrillic."""
    import random

    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    rnd = random.Random(20261129)
    texts = [verification_url("https://qujat.example.kz", new_token()) for _ in range(40)]
    texts += ["".join(rnd.choice("abcXYZ0123 -/:") for _ in range(rnd.randint(1, 700))) for _ in range(25)]
    texts += ["01234567890123456789", "ABC-123 $%*+./:", "Жер учаскесі 01-234-056-789 — акт", "x"]
    versions = set()
    for text in texts:
        ref = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
        ref.add_data(text)
        ref.make(fit=True)
        versions.add(ref.version)
        assert qr_matrix(text) == ref.modules, text
    assert min(versions) <= 2 and max(versions) >= 10


@needs_zbar
def test_qr_default_size_is_crisp_at_print_width(tmp_path):
    """By default a module is a whole number of pixels and the code stays within 300 dpi at its
    printed width: nothing for LibreOffice's PDF export to resample."""
    url = verification_url("https://qujat.example.kz", new_token())
    png = qr_png(url)
    img = Image.open(io.BytesIO(png))
    assert img.mode == "1"
    modules = len(qr_matrix(url)) + 8
    assert img.size[0] % modules == 0
    box = img.size[0] // modules
    assert img.size[0] / (PRINT_WIDTH_MM / 25.4) <= 300 < (box + 1) * modules / (PRINT_WIDTH_MM / 25.4)
    assert _decode(png, tmp_path) == url


def test_qr_png_rejects_bad_input():
    with pytest.raises(ValueError):
        qr_png("")
    with pytest.raises(ValueError):
        qr_png("x", box_size=0)


def test_verification_url():
    assert verification_url("https://a.kz", "T") == "https://a.kz/v/T"
    assert verification_url("https://a.kz/base///", "T") == "https://a.kz/base/v/T"
    with pytest.raises(ValueError):
        verification_url("https://a.kz", "")


def test_new_token_is_crockford_base32_with_130_random_bits():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for t in tokens:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{28}", t), t   # no I, L, O, U; upper case
        assert is_canonical_token(t) and canonical_token(t) == t
    # the 26 random characters use the whole alphabet evenly (130 bits): each of the 32 symbols
    # is about 1/32 of them; the two check characters are left out of the count
    counts = {c: 0 for c in ALPHABET}
    for t in tokens:
        for c in t[:26]:
            counts[c] += 1
    expected = 2000 * 26 / 32
    assert all(0.85 * expected < n < 1.15 * expected for n in counts.values()), counts
    assert set(ALPHABET) == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") and len(ALPHABET) == 32


def test_the_printed_code_is_grouped_in_fours_and_reads_back():
    t = new_token()
    printed = format_token(t)
    assert re.fullmatch(r"([0-9A-Z]{4}-){6}[0-9A-Z]{4}", printed)
    assert printed.replace("-", "") == t
    assert canonical_token(printed) == t


def test_a_typed_code_is_read_as_crockford_decoding_does():
    t = _with_check("7QKM2XJ40ABC1DEFGHJK5NPQRS")      # has 0, 1, K and M to be mistyped
    assert canonical_token(t) == t
    typed = [
        t.lower(),                                               # case does not matter
        " " + format_token(t, " ") + " ",                        # groups with spaces
        format_token(t, "–"),                               # a word processor's dash
        t.replace("0", "O").replace("1", "l"),                   # O for 0, l for 1
        t.replace("1", "I").lower(),                             # I (or i) for 1
        t.replace("K", "К").replace("M", "м").replace("0", "О"),  # Cyrillic look-alikes
        "".join(chr(ord(c) + 0xFEE0) for c in t),                # full-width forms
    ]
    for text in typed:
        assert canonical_token(text) == t, text


def _with_check(random26: str) -> str:
    values = [ALPHABET.index(c) for c in random26]
    total = sum(w * v for w, v in enumerate(values, start=1)) % 1021
    return random26 + ALPHABET[total // 32] + ALPHABET[total % 32]


def test_a_mistyped_code_is_told_apart_from_an_unknown_one():
    t = new_token()
    for i in range(len(t)):                            # every single wrong character
        for c in ALPHABET:
            if c != t[i]:
                with pytest.raises(TokenError) as e:
                    canonical_token(t[:i] + c + t[i + 1:])
                assert e.value.reason == "check"
    for gap in (1, 2):                                 # swaps of neighbours and next-but-one
        for i in range(len(t) - gap):
            if t[i] != t[i + gap]:
                swapped = list(t)
                swapped[i], swapped[i + gap] = swapped[i + gap], swapped[i]
                with pytest.raises(TokenError):
                    canonical_token("".join(swapped))
    for text, reason in ((t[:-1], "length"), (t + "7", "length"), ("", "length"),
                         (t[:5] + "U" + t[6:], "character"), (t[:5] + "*" + t[6:], "character"),
                         ("x" * 500, "length")):
        with pytest.raises(TokenError) as e:
            canonical_token(text)
        assert e.value.reason == reason, text
    assert not is_canonical_token(t.lower()) and not is_canonical_token(format_token(t))
