"""QR codes for document verification links.

Every issued document carries a QR code pointing at ``<base_url>/v/<token>``;
the token (`docgen.tokens`: 130 random bits in Crockford base32 with two check characters, canonical
form in the URL, printed in groups of four) identifies the document in the verification service.

The code is the one the ``qrcode`` library makes (its data encoding, Reed-Solomon blocks, module
layout and choice of mask: the same matrix, module for module), built faster: what depends only on
the version — function patterns, where the data modules go, the eight masks over them — is worked
out once per version, each mask is applied to whole rows at a time (rows as integers), and its
penalty is scored on those rows. The PNG (1 bit per pixel) is written directly.
"""
from __future__ import annotations

import re
import struct
import threading
import zlib
from dataclasses import dataclass

import qrcode
from qrcode import util as qr_util
from qrcode.constants import ERROR_CORRECT_M

from docgen.tokens import format_token, new_token

__all__ = ["qr_png", "qr_matrix", "box_size_for", "verification_url", "new_token", "format_token",
           "PRINT_WIDTH_MM"]


# --------------------------------------------------------------------------- per version


@dataclass(frozen=True)
class _Layout:
    n: int  # modules a side
    positions: tuple[tuple[int, int, int, int], ...]  # data modules (row, 1 << col, col, 1 << row)
    test_rows: tuple[int, ...]  # function patterns as the mask choice sees them (no format info)
    test_cols: tuple[int, ...]  # the same, column by column (bit r of column c)
    mask_rows: tuple[tuple[int, ...], ...]  # per mask: the data modules it inverts
    mask_cols: tuple[tuple[int, ...], ...]
    final_rows: tuple[tuple[int, ...], ...]  # per mask: function patterns with format information


def _blank(version: int, error_correction: int) -> qrcode.QRCode:
    q = qrcode.QRCode(version=version, error_correction=error_correction)
    n = q.modules_count = version * 4 + 17
    q.modules = [[None] * n for _ in range(n)]
    q.setup_position_probe_pattern(0, 0)
    q.setup_position_probe_pattern(n - 7, 0)
    q.setup_position_probe_pattern(0, n - 7)
    q.setup_position_adjust_pattern()
    q.setup_timing_pattern()
    return q


def _rows(modules) -> tuple[int, ...]:
    return tuple(sum(1 << c for c, m in enumerate(row) if m) for row in modules)


def _transpose(rows: tuple[int, ...] | list[int], n: int) -> tuple[int, ...]:
    return tuple(sum(1 << r for r in range(n) if rows[r] >> c & 1) for c in range(n))


_layouts: dict[tuple[int, int], _Layout] = {}
_layouts_lock = threading.Lock()


def _layout(version: int, error_correction: int) -> _Layout:
    key = (version, error_correction)
    layout = _layouts.get(key)
    if layout is not None:
        return layout
    q = _blank(version, error_correction)
    n = q.modules_count
    q.setup_type_info(True, 0)  # the cells of the format (and version) information are reserved
    if version >= 7:
        q.setup_type_number(True)
    test_rows = _rows(q.modules)
    # the data modules in the order qrcode's map_data fills them
    positions = []
    row, inc = n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1
        while True:
            for c in (col, col - 1):
                if q.modules[row][c] is None:
                    positions.append((row, c))
            row += inc
            if row < 0 or row >= n:
                row -= inc
                inc = -inc
                break
    mask_rows = []
    for mask in range(8):
        fn = qr_util.mask_func(mask)
        rows = [0] * n
        for r, c in positions:
            if fn(r, c):
                rows[r] |= 1 << c
        mask_rows.append(tuple(rows))
    final_rows = []
    for mask in range(8):
        f = _blank(version, error_correction)
        f.setup_type_info(False, mask)
        if version >= 7:
            f.setup_type_number(False)
        final_rows.append(_rows(f.modules))
    layout = _Layout(n, tuple((r, 1 << c, c, 1 << r) for r, c in positions), test_rows,
                     _transpose(test_rows, n), tuple(mask_rows),
                     tuple(_transpose(m, n) for m in mask_rows), tuple(final_rows))
    with _layouts_lock:
        _layouts[key] = layout
    return layout


# --------------------------------------------------------------------------- mask penalty


_RUN = re.compile(r"0{5,}|1{5,}")
# neither pattern overlaps itself, so str.count finds every occurrence
_FINDER_LIKE = ("10111010000", "00001011101")


def _penalty(rows: list[int], cols: list[int], n: int) -> int:
    """qrcode's ``util.lost_point`` of the matrix whose row r has bit c set, and column c bit r,
    for a dark module."""
    width = f"0{n}b"
    # rows and columns in one string (bit order reversed: every rule is symmetric), apart by a
    # character no pattern matches
    text = "2".join(format(x, width) for x in rows + cols)
    # 1: runs of five or more modules of one colour, in rows and columns
    points = sum(len(m) - 2 for m in _RUN.findall(text))
    # 2: 2x2 blocks of one colour
    full = (1 << n) - 1
    pair = (1 << (n - 1)) - 1
    for a, b in zip(rows, rows[1:]):
        same = ~(a ^ b) & full  # the two rows agree in this column
        points += 3 * (same & (same >> 1) & ~(a ^ (a >> 1)) & pair).bit_count()
    # 3: finder-like 1:1:3:1:1 patterns with four light modules on one side
    points += 40 * sum(text.count(p) for p in _FINDER_LIKE)
    # 4: proportion of dark modules
    dark = sum(r.bit_count() for r in rows)
    percent = float(dark) / (n**2)
    return points + int(abs(percent * 100 - 50) / 5) * 10


def qr_matrix(data: str, *, error_correction: int = ERROR_CORRECT_M) -> list[list[bool]]:
    """The modules of the QR code of *data* (True for dark), without the quiet zone: the smallest
    version that holds the data, the mask of least penalty, as ``qrcode`` chooses them."""
    n, rows = _encode(data, error_correction)
    return [[bool(r >> c & 1) for c in range(n)] for r in rows]


def _encode(data: str, error_correction: int) -> tuple[int, list[int]]:
    q = qrcode.QRCode(error_correction=error_correction)
    q.add_data(data)
    version = q.best_fit()
    codewords = qr_util.create_data(version, error_correction, q.data_list)
    layout = _layout(version, error_correction)
    n = layout.n
    data_rows, data_cols = [0] * n, [0] * n
    nbits = len(codewords) * 8
    for i, (r, rbit, c, cbit) in enumerate(layout.positions):
        if i >= nbits:
            break
        if codewords[i >> 3] >> (7 - (i & 7)) & 1:
            data_rows[r] |= rbit
            data_cols[c] |= cbit
    best, best_points = 0, None
    for mask in range(8):
        rows = [f | (d ^ k) for f, d, k in zip(layout.test_rows, data_rows, layout.mask_rows[mask])]
        cols = [f | (d ^ k) for f, d, k in zip(layout.test_cols, data_cols, layout.mask_cols[mask])]
        points = _penalty(rows, cols, n)
        if best_points is None or points < best_points:
            best, best_points = mask, points
    m = layout.mask_rows[best]
    return n, [f | (d ^ k) for f, d, k in zip(layout.final_rows[best], data_rows, m)]


# --------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


#: Printed width of the code in the page footer.
PRINT_WIDTH_MM = 22.0
#: LibreOffice's PDF export resamples pictures finer than this (its MaxImageResolution), which
#: costs it several milliseconds per document and turns module edges grey.
MAX_DPI = 300


def box_size_for(modules: int, width_mm: float = PRINT_WIDTH_MM, max_dpi: int = MAX_DPI) -> int:
    """The largest whole number of pixels per module that keeps ``modules`` modules printed
    ``width_mm`` wide at no more than ``max_dpi``: crisp, and nothing for a converter to resample."""
    return max(1, int(width_mm / 25.4 * max_dpi) // modules)


def qr_png(data: str, *, box_size: int | None = None, border: int = 4,
           width_mm: float = PRINT_WIDTH_MM) -> bytes:
    """Encode *data* as a black-on-white QR code (error correction M), PNG bytes.

    ``box_size`` is the size of one module in pixels; by default the largest that stays within
    300 dpi when the code is printed ``width_mm`` wide (`box_size_for`). ``border`` is the quiet
    zone in modules (the QR specification asks for at least 4).
    """
    if not isinstance(data, str) or not data:
        raise ValueError("QR data must be a non-empty string")
    if box_size is not None and box_size < 1:
        raise ValueError(f"box_size must be >= 1, got {box_size}")
    if border < 0:
        raise ValueError(f"border must be >= 0, got {border}")
    n, rows = _encode(data, ERROR_CORRECT_M)
    side = n + 2 * border
    if box_size is None:
        box_size = box_size_for(side, width_mm)
    px = side * box_size
    pad = -px % 8
    light = "1" * box_size  # a 1-bit greyscale PNG: 1 is white
    dark = "0" * box_size
    quiet = light * side + "1" * pad
    table = str.maketrans({"0": light, "1": dark})
    width = f"0{n}b"
    raw = []
    quiet_line = b"\0" + int(quiet, 2).to_bytes((px + pad) // 8, "big")
    raw += [quiet_line] * (border * box_size)
    for r in rows:
        # format() puts column 0 last: reverse it
        bits = light * border + format(r, width)[::-1].translate(table) + light * border + "1" * pad
        line = b"\0" + int(bits, 2).to_bytes((px + pad) // 8, "big")
        raw += [line] * box_size
    raw += [quiet_line] * (border * box_size)
    header = struct.pack(">IIBBBBB", px, px, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", header),
        _chunk(b"IDAT", zlib.compress(b"".join(raw), 6)),
        _chunk(b"IEND", b""),
    ))


def verification_url(base_url: str, token: str) -> str:
    """``https://host/base`` + ``/v/`` + token (a trailing slash of base_url is dropped)."""
    if not token:
        raise ValueError("token must be non-empty")
    return base_url.rstrip("/") + "/v/" + token
