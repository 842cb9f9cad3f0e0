import io
import re
import shutil
import subprocess

import pytest
from PIL import Image

from docgen.qr import PRINT_WIDTH_MM, new_token, qr_matrix, qr_png, verification_url


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


def test_new_token_urlsafe_and_random():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for t in tokens:
        assert len(t) == 32  # 24 bytes base64url without padding
        assert re.fullmatch(r"[A-Za-z0-9_-]+", t)
    # >= 128 bits: 32 chars of a 64-symbol alphabet = 192 bits; check the
    # alphabet is really used (not e.g. hex)
    alphabet = set("".join(tokens))
    assert len(alphabet) > 50
