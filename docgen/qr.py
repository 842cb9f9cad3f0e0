"""QR codes for document verification links.

Every issued document carries a QR code pointing at ``<base_url>/v/<token>``;
the token is an unguessable random string (192 bits) that identifies the
document in the verification service.
"""
from __future__ import annotations

import io
import secrets

import qrcode
from qrcode.constants import ERROR_CORRECT_M

__all__ = ["qr_png", "verification_url", "new_token"]

_TOKEN_BYTES = 24  # 192 bits of entropy -> 32 URL-safe characters


def qr_png(data: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """Encode *data* as a black-on-white QR code (error correction M), PNG bytes.

    ``box_size`` is the size of one module in pixels, ``border`` the quiet zone in
    modules (the QR specification asks for at least 4).
    """
    if not isinstance(data, str) or not data:
        raise ValueError("QR data must be a non-empty string")
    if box_size < 1:
        raise ValueError(f"box_size must be >= 1, got {box_size}")
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    qr = qrcode.QRCode(
        version=None,  # smallest version that holds the data
        error_correction=ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
    )
    qr.add_data(data)
    qr.make(fit=True)
    img = qr.make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def verification_url(base_url: str, token: str) -> str:
    """``https://host/base`` + ``/v/`` + token (a trailing slash of base_url is dropped)."""
    if not token:
        raise ValueError("token must be non-empty")
    return base_url.rstrip("/") + "/v/" + token


def new_token() -> str:
    """A fresh URL-safe random token (``secrets.token_urlsafe(24)``: 192 bits, 32 chars)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)
