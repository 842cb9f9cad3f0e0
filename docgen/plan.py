"""Plot plan (план земельного участка / жер учаскесінің жоспары) for the act on the
right to a land plot, drawn as a vector picture (EMF).

Input points are ``(name, x, y)`` in metres in the Kazakh cadastre convention:
X is the northing (grows to the north), Y the easting (grows to the east); the geometry
(closure, area, side lengths, simplicity) is `docgen.geometry`.

The picture is an Enhanced Metafile: lines, circles and text, no pixels. Word and LibreOffice
both draw it natively, so the plan is sharp at any print resolution, the PDF carries its text as
text (searchable, in the document's embedded font), and it costs far less than a 300-dpi raster
on both sides: a raster had to be drawn, compressed, then decoded and re-compressed inside
LibreOffice for every document. Text is set in Times New Roman (Liberation Serif under
LibreOffice, metric-compatible), the document's font; label sizes come from the font's metrics.

Point names go along the outward bisector of their vertex and side lengths outside their side at
its midpoint; where that would collide with the outline, a point or a label already placed, the
next of a few candidate positions is taken (greedy, names first).

Layout of the sheet (mm): the plot is centred in the area left after fixed margins; the right
margin holds the north arrow, the bottom band the scale bar and the numeric scale.
``choose_scale`` uses the same area.
"""
from __future__ import annotations

import math
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from docgen.geometry import Point, normalize_points, segment_lengths

__all__ = [
    "PlanImage",
    "STANDARD_SCALES",
    "draw_plan",
    "choose_scale",
    "format_length",
]

#: Standard scale denominators, smallest first.
STANDARD_SCALES: tuple[int, ...] = (
    500, 1000, 2000, 2500, 5000, 10000, 25000, 50000, 100000, 200000, 500000, 1000000,
)

# Sheet layout, mm.
MARGIN_SIDE_MM = 15.0  # left/right: room for point names; the north arrow sits in the right one
MARGIN_TOP_MM = 10.0
MARGIN_BOTTOM_MM = 20.0  # scale bar + numeric scale
MAX_SHEET_MM = 500.0

_TEXTS = {
    "ru": {"north": "С", "scale": "Масштаб", "metre": "м"},
    "kk": {"north": "С", "scale": "Масштабы", "metre": "м"},  # Солтүстік: Kazakh maps mark north «С»
}


@dataclass(frozen=True)
class PlanImage:
    data: bytes  # the picture, an EMF
    width_mm: float  # size it is drawn for
    height_mm: float
    scale: int  # the scale denominator used, e.g. 1000 for 1:1000
    format: str = "emf"


# --------------------------------------------------------------------------- scale


def _plot_area_mm(width_mm: float, height_mm: float) -> tuple[float, float]:
    w = width_mm - 2 * MARGIN_SIDE_MM
    h = height_mm - MARGIN_TOP_MM - MARGIN_BOTTOM_MM
    if w <= 0 or h <= 0:
        raise ValueError(
            f"plan sheet {width_mm}x{height_mm} mm is too small: margins take "
            f"{2 * MARGIN_SIDE_MM} mm across and {MARGIN_TOP_MM + MARGIN_BOTTOM_MM} mm down"
        )
    return w, h


def _extent_m(pts: list[Point]) -> tuple[float, float]:
    """(east-west extent, north-south extent) in metres."""
    xs = [p[1] for p in pts]
    ys = [p[2] for p in pts]
    return max(ys) - min(ys), max(xs) - min(xs)


def _fits(pts: list[Point], scale: int, area: tuple[float, float]) -> bool:
    ew, ns = _extent_m(pts)
    k = 1000.0 / scale  # mm on paper per metre
    eps = 1e-9
    return ew * k <= area[0] + eps and ns * k <= area[1] + eps


def choose_scale(points: Sequence[tuple[str, float, float]], width_mm: float, height_mm: float) -> int:
    """Smallest standard scale denominator at which the plot fits the sheet with margins."""
    pts = normalize_points(points)
    area = _plot_area_mm(width_mm, height_mm)
    for scale in STANDARD_SCALES:
        if _fits(pts, scale, area):
            return scale
    ew, ns = _extent_m(pts)
    raise ValueError(
        f"plot of {ew:.0f} x {ns:.0f} m does not fit a {width_mm}x{height_mm} mm plan "
        f"even at 1:{STANDARD_SCALES[-1]}"
    )


# --------------------------------------------------------------------------- text


def format_length(metres: float) -> str:
    """Length with 2 decimals and a decimal comma: ``125.4`` -> ``"125,40"``."""
    return f"{metres:.2f}".replace(".", ",")


def _format_scale(scale: int) -> str:
    # Russian/Kazakh typography groups thousands from 10 000 on: 1:1000, 1:10 000
    return f"1:{scale}" if scale < 10000 else "1:" + f"{scale:,}".replace(",", " ")


FACE = "Times New Roman"  # the templates' font; LibreOffice draws it with Liberation Serif
_FONT_DIRS = (
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/truetype/msttcorefonts",
)
_FONT_FILES = {
    False: ("LiberationSerif-Regular.ttf", "Times_New_Roman.ttf", "times.ttf"),
    True: ("LiberationSerif-Bold.ttf", "Times_New_Roman_Bold.ttf", "timesbd.ttf"),
}
_EM = 2048  # metrics are read at this size in pixels and scaled


class _Metrics:
    """Advance widths and ink extents of single characters of the plan's font, read once per
    character (FreeType through Pillow, imported on first use) and kept. Per-character advances
    without kerning are exactly what the EMF's character spacing array then prescribes, so
    what is measured here is what any reader draws."""

    def __init__(self):
        self._lock = threading.Lock()
        self._fonts: dict[bool, object] = {}
        self._chars: dict[tuple[str, bool], tuple[float, float, float]] = {}

    def _font(self, bold: bool):
        font = self._fonts.get(bold)
        if font is None:
            from PIL import ImageFont

            for name in _FONT_FILES[bold]:
                for d in _FONT_DIRS:
                    path = Path(d) / name
                    if path.is_file():
                        font = ImageFont.truetype(str(path), _EM)
                        break
                if font is not None:
                    break
            else:
                raise RuntimeError("no Times-metric font found (install fonts-liberation2)")
            self._fonts[bold] = font
        return font

    def char(self, ch: str, bold: bool) -> tuple[float, float, float]:
        """(advance, ink top, ink bottom) in ems; top is negative above the baseline."""
        key = (ch, bold)
        m = self._chars.get(key)
        if m is None:
            with self._lock:
                font = self._font(bold)
                advance = font.getlength(ch) / _EM
                if ch.isspace():
                    top = bottom = 0.0
                else:
                    _, t, _, b = font.getbbox(ch, anchor="ls")
                    top, bottom = t / _EM, b / _EM
                m = self._chars[key] = (advance, top, bottom)
        return m

    def text(self, text: str, size_mm: float, bold: bool) -> tuple[list[float], float, float]:
        """Advances of each character, ink top and ink bottom relative to the baseline, in mm."""
        ms = [self.char(ch, bold) for ch in text]
        if not ms:
            return [], 0.0, 0.0
        return ([a * size_mm for a, _, _ in ms], min(t for _, t, _ in ms) * size_mm,
                max(b for _, _, b in ms) * size_mm)


_metrics = _Metrics()


def _pt_to_mm(pt: float) -> float:
    return pt * 25.4 / 72


# --------------------------------------------------------------------------- EMF


_U = 100  # logical units per mm: 0.01 mm
# stock objects
_WHITE_BRUSH, _BLACK_BRUSH, _NULL_BRUSH = 0x80000000, 0x80000004, 0x80000005
# record types ([MS-EMF] 2.1.1)
_EMR_HEADER, _EMR_POLYGON, _EMR_POLYLINE, _EMR_EOF = 1, 3, 4, 14
_EMR_SETBKMODE, _EMR_SETTEXTALIGN, _EMR_SETTEXTCOLOR = 18, 22, 24
_EMR_SELECTOBJECT, _EMR_ELLIPSE, _EMR_RECTANGLE = 37, 42, 43
_EMR_EXTCREATEFONTINDIRECTW, _EMR_EXTTEXTOUTW, _EMR_EXTCREATEPEN = 82, 84, 95
_TA_LEFT, _TA_CENTER, _TA_BASELINE = 0, 6, 24
_PS_GEOMETRIC, _PS_JOIN_ROUND = 0x00010000, 0x00000000  # round caps and joins are the zero values
_FW_NORMAL, _FW_BOLD = 400, 700
_DEFAULT_CHARSET, _FF_ROMAN_VARIABLE = 1, 0x12


def _u(mm: float) -> int:
    return round(mm * _U)


class _Emf:
    """Records of an Enhanced Metafile whose logical unit is 0.01 mm (MM_TEXT on a reference
    device of 100 pixels per mm), origin at the top left of the sheet."""

    def __init__(self, width_mm: float, height_mm: float):
        self.width_mm, self.height_mm = width_mm, height_mm
        self.records: list[bytes] = []
        self.handles = 0
        self._pens: dict[int, int] = {}
        self._fonts: dict[tuple[int, bool, int], int] = {}
        self._pen = self._brush = self._font = None
        self._align = None
        self._add(_EMR_SETBKMODE, struct.pack("<I", 1))  # TRANSPARENT
        self._add(_EMR_SETTEXTCOLOR, struct.pack("<I", 0))  # black

    def _add(self, rtype: int, payload: bytes) -> None:
        self.records.append(struct.pack("<II", rtype, 8 + len(payload)) + payload)

    def _select(self, handle: int) -> None:
        self._add(_EMR_SELECTOBJECT, struct.pack("<I", handle))

    def pen(self, width_mm: float) -> None:
        w = max(1, _u(width_mm))
        h = self._pens.get(w)
        if h is None:
            self.handles += 1
            h = self._pens[w] = self.handles
            # ihPen, offBmi, cbBmi, offBits, cbBits; LogPenEx: style, width, BS_SOLID, black, hatch, 0 entries
            self._add(_EMR_EXTCREATEPEN, struct.pack("<5I6I", h, 0, 0, 0, 0,
                                                     _PS_GEOMETRIC | _PS_JOIN_ROUND, w, 0, 0, 0, 0))
        if self._pen != h:
            self._select(h)
            self._pen = h

    def brush(self, stock: int) -> None:
        if self._brush != stock:
            self._select(stock)
            self._brush = stock

    def font(self, size_mm: float, bold: bool, angle_deg: float) -> None:
        key = (_u(size_mm), bold, round(angle_deg * 10) % 3600)
        h = self._fonts.get(key)
        if h is None:
            self.handles += 1
            h = self._fonts[key] = self.handles
            height, _, esc = key
            logfont = struct.pack("<5i8B", -height, 0, esc, esc, _FW_BOLD if bold else _FW_NORMAL,
                                  0, 0, 0, _DEFAULT_CHARSET, 0, 0, 0, _FF_ROMAN_VARIABLE)
            logfont += FACE.encode("utf-16-le").ljust(64, b"\0")
            self._add(_EMR_EXTCREATEFONTINDIRECTW, struct.pack("<I", h) + logfont)
        if self._font != h:
            self._select(h)
            self._font = h

    @staticmethod
    def _points(pts) -> tuple[bytes, list[tuple[int, int]]]:
        p = [(_u(x), _u(y)) for x, y in pts]
        xs, ys = [q[0] for q in p], [q[1] for q in p]
        bounds = struct.pack("<4i", min(xs), min(ys), max(xs), max(ys))
        return bounds + struct.pack("<I", len(p)) + b"".join(struct.pack("<2i", *q) for q in p), p

    def polyline(self, pts, width_mm: float) -> None:
        self.pen(width_mm)
        self._add(_EMR_POLYLINE, self._points(pts)[0])

    def polygon(self, pts, width_mm: float, fill: int = _NULL_BRUSH) -> None:
        self.pen(width_mm)
        self.brush(fill)
        self._add(_EMR_POLYGON, self._points(pts)[0])

    def ellipse(self, cx: float, cy: float, r: float, width_mm: float, fill: int) -> None:
        self.pen(width_mm)
        self.brush(fill)
        self._add(_EMR_ELLIPSE, struct.pack("<4i", _u(cx - r), _u(cy - r), _u(cx + r), _u(cy + r)))

    def rectangle(self, x0: float, y0: float, x1: float, y1: float, width_mm: float, fill: int) -> None:
        self.pen(width_mm)
        self.brush(fill)
        self._add(_EMR_RECTANGLE, struct.pack("<4i", _u(x0), _u(y0), _u(x1), _u(y1)))

    def text(self, x_mm: float, y_mm: float, text: str, size_mm: float, bold: bool,
             advances_mm: list[float], angle_deg: float = 0.0, align: int = _TA_CENTER) -> None:
        """``text`` with its baseline through (x, y): centred on x or starting at it (``align``),
        rotated counter-clockwise by ``angle_deg`` around that point; every character advances by
        the given widths."""
        self.font(size_mm, bold, angle_deg)
        if self._align != align:
            self._add(_EMR_SETTEXTALIGN, struct.pack("<I", align | _TA_BASELINE))
            self._align = align
        n = len(text)
        chars = text.encode("utf-16-le")
        chars += b"\0" * (-len(chars) % 4)
        # the advances in logical units, rounded so that their sum stays that of the exact widths
        dx, edge, acc = [], 0, 0.0
        for a in advances_mm:
            acc += a * _U
            dx.append(round(acc) - edge)
            edge += dx[-1]
        off_string = 76
        off_dx = off_string + len(chars)
        self._add(_EMR_EXTTEXTOUTW, b"".join((
            struct.pack("<4i", 0, 0, -1, -1),  # bounds: not used
            struct.pack("<Iff", 1, 1.0, 1.0),  # GM_COMPATIBLE, page units are 0.01 mm
            struct.pack("<2iIII", _u(x_mm), _u(y_mm), n, off_string, 0),
            struct.pack("<4i", 0, 0, -1, -1),  # no clipping rectangle
            struct.pack("<I", off_dx),
            chars,
            struct.pack(f"<{n}i", *dx),
        )))

    def tobytes(self) -> bytes:
        w, h = _u(self.width_mm), _u(self.height_mm)
        eof = struct.pack("<5I", _EMR_EOF, 20, 0, 16, 20)
        body = b"".join(self.records) + eof
        header_size = 108
        header = struct.pack(
            "<II4i4iIIIIHHIIIiiiiIIIii",
            _EMR_HEADER, header_size,
            0, 0, w - 1, h - 1,  # bounds, device units (= logical units here)
            0, 0, w - 1, h - 1,  # frame, 0.01 mm
            0x464D4520, 0x10000,  # " EMF", version
            header_size + len(body), len(self.records) + 2,
            self.handles + 1, 0,  # handle table size (index 0 is reserved), reserved
            0, 0, 0,  # no description, no palette
            w, h, round(self.width_mm), round(self.height_mm),  # reference device: 100 px per mm
            0, 0, 0,  # no pixel format, not OpenGL
            round(self.width_mm * 1000), round(self.height_mm * 1000),  # micrometres
        )
        return header + body


# --------------------------------------------------------------------------- label placement


def _unit(dx: float, dy: float) -> tuple[float, float]:
    n = math.hypot(dx, dy)
    return (dx / n, dy / n) if n else (0.0, 0.0)


def _box_center_along(dx: float, dy: float, half_w: float, half_h: float) -> float:
    """Distance from a box's centre to its edge along the unit direction (dx, dy)."""
    cands = []
    if abs(dx) > 1e-12:
        cands.append(half_w / abs(dx))
    if abs(dy) > 1e-12:
        cands.append(half_h / abs(dy))
    return min(cands) if cands else 0.0


_NAME_TURNS = (0, 30, -30, 60, -60, 90, -90, 125, -125, 160, -160)


def _quad(centre, along, half_len: float, half_h: float) -> list[tuple[float, float]]:
    """Corners of a rectangle centred at *centre*, its long axis along the unit *along*."""
    (cx, cy), (ux, uy) = centre, along
    vx, vy = -uy, ux
    return [
        (cx + sx * half_len * ux + sy * half_h * vx, cy + sx * half_len * uy + sy * half_h * vy)
        for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]


def _bbox(pts) -> tuple[float, float, float, float]:
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _separated(a: list, b: list) -> bool:
    """Separating axis test for two convex polygons (a segment counts as one)."""
    for poly in (a, b):
        m = len(poly)
        for i in range(m if m > 2 else 1):
            p, q = poly[i], poly[(i + 1) % m]
            ax, ay = -(q[1] - p[1]), q[0] - p[0]
            pa = [ax * x + ay * y for x, y in a]
            pb = [ax * x + ay * y for x, y in b]
            if max(pa) <= min(pb) or max(pb) <= min(pa):
                return True
    return False


class _Placer:
    """Greedy label placement against a growing set of obstacles (page mm)."""

    PAD = 0.25  # clearance kept around labels, mm

    def __init__(self, width_mm: float, height_mm: float):
        self.width, self.height = width_mm, height_mm
        self.shapes: list[tuple[tuple[float, float, float, float], list]] = []

    def add_segment(self, a, b) -> None:
        self.shapes.append((_bbox((a, b)), [a, b]))

    def add_box(self, quad: list) -> None:
        self.shapes.append((_bbox(quad), quad))

    def _cost(self, quad: list) -> int:
        x0, y0, x1, y1 = _bbox(quad)
        cost = 0
        if x0 < 0.5 or y0 < 0.5 or x1 > self.width - 0.5 or y1 > self.height - 0.5:
            cost += 5  # leaves the sheet
        pad = self.PAD
        grown = _quad(
            ((quad[0][0] + quad[2][0]) / 2, (quad[0][1] + quad[2][1]) / 2),
            _unit(quad[1][0] - quad[0][0], quad[1][1] - quad[0][1]),
            math.dist(quad[0], quad[1]) / 2 + pad,
            math.dist(quad[1], quad[2]) / 2 + pad,
        )
        gx0, gy0, gx1, gy1 = _bbox(grown)
        for (bx0, by0, bx1, by1), shape in self.shapes:
            if bx1 < gx0 or bx0 > gx1 or by1 < gy0 or by0 > gy1:
                continue
            if not _separated(grown, shape):
                cost += 1
        return cost

    def place(self, candidates: Iterable[tuple]) -> tuple:
        """The first candidate ``(centre, quad)`` without collisions, else the least bad (the
        first of those). ``candidates`` may be a generator: those after the chosen one are never
        made (usually the first fits)."""
        best, best_cost = None, None
        for cand in candidates:
            cost = self._cost(cand[1])
            if cost == 0:
                best = cand
                break
            if best_cost is None or cost < best_cost:
                best, best_cost = cand, cost
        self.add_box(best[1])
        return best


# --------------------------------------------------------------------------- drawing


class _Label:
    """A line of text: its size for placement and how to set it centred on a point."""

    def __init__(self, text: str, pt: float, bold: bool = False):
        self.text, self.bold = text, bold
        self.size_mm = _pt_to_mm(pt)
        self.advances, self.top, self.bottom = _metrics.text(text, self.size_mm, bold)
        self.width = sum(self.advances)
        self.height = self.bottom - self.top

    def draw(self, emf: _Emf, cx: float, cy: float, angle_deg: float = 0.0) -> None:
        """Centred on (cx, cy): the ink's vertical middle and the advance's horizontal middle,
        rotated counter-clockwise by angle_deg around that centre."""
        drop = -(self.top + self.bottom) / 2  # from the ink's middle down to the baseline
        a = math.radians(angle_deg)
        # the text's "down" is (sin a, cos a) on a page whose y axis points down
        emf.text(cx + drop * math.sin(a), cy + drop * math.cos(a), self.text, self.size_mm,
                 self.bold, self.advances, angle_deg)

    def draw_left(self, emf: _Emf, x: float, cy: float) -> None:
        """Starting at x, vertically centred on cy."""
        drop = -(self.top + self.bottom) / 2
        emf.text(x, cy + drop, self.text, self.size_mm, self.bold, self.advances, align=_TA_LEFT)


def _nice_step(min_mm: float, mm_per_m: float) -> float:
    """Smallest 1-2-5 x 10^k metres whose length on paper is >= min_mm."""
    target_m = min_mm / mm_per_m
    k = math.floor(math.log10(target_m))
    while True:
        for m in (1, 2, 5):
            step = m * 10.0 ** k
            if step >= target_m - 1e-9:
                return step
        k += 1


def _fmt_metres(v: float) -> str:
    return f"{v:.0f}" if v >= 1 else f"{v:g}".replace(".", ",")


def _draw_north_arrow(emf: _Emf, width_mm: float, letter: str) -> None:
    xc = width_mm - MARGIN_SIDE_MM / 2
    top, head, notch, bottom = 9.0, 15.0, 13.5, 22.0
    half = 2.2
    _Label(letter, 11, bold=True).draw(emf, xc, 5.5)
    emf.polygon([(xc, top), (xc - half, head), (xc, notch)], 0.1, fill=_BLACK_BRUSH)
    emf.polyline([(xc, top), (xc + half, head), (xc, notch)], 0.2)
    emf.polyline([(xc, notch), (xc, bottom)], 0.3)


def _draw_scale_bar(emf: _Emf, width_mm: float, height_mm: float, scale: int, texts: dict) -> None:
    mm_per_m = 1000.0 / scale
    step_m = _nice_step(8.0, mm_per_m)
    step_mm = step_m * mm_per_m
    max_bar = max(step_mm, min(60.0, width_mm - 2 * MARGIN_SIDE_MM - 10))
    nseg = max(1, min(5, int(max_bar // step_mm)))
    bar_mm = nseg * step_mm
    x0 = (width_mm - bar_mm) / 2
    y_top = height_mm - MARGIN_BOTTOM_MM + 7.0
    bar_h = 1.2
    for i in range(nseg):
        xa, xb = x0 + i * step_mm, x0 + (i + 1) * step_mm
        emf.rectangle(xa, y_top, xb, y_top + bar_h, 0.2, _BLACK_BRUSH if i % 2 == 0 else _WHITE_BRUSH)
    for i in range(nseg + 1):
        x = x0 + i * step_mm
        emf.polyline([(x, y_top - 0.9), (x, y_top + bar_h)], 0.2)
        label = _Label(_fmt_metres(i * step_m), 7)
        label.draw(emf, x, y_top - 1.3 - label.height / 2)  # the ink's bottom 1.3 mm above the bar
    _Label(texts["metre"], 7).draw_left(emf, x0 + bar_mm + 1.5, y_top + bar_h / 2)
    _Label(f"{texts['scale']} {_format_scale(scale)}", 9).draw(emf, width_mm / 2, y_top + bar_h + 5.0)


def _name_candidates(label: _Label, vx: float, vy: float, bx: float, by: float,
                     r_mm: float) -> Iterator[tuple]:
    """Where a turning point's name may go, best first: along the outward bisector (bx, by),
    then turned ever further from it, then the same a little further out."""
    tw, th = label.width, label.height
    for extra in (0.0, 1.2, 2.6):
        for turn in _NAME_TURNS:
            t = math.radians(turn)
            dx = bx * math.cos(t) - by * math.sin(t)
            dy = bx * math.sin(t) + by * math.cos(t)
            dist = r_mm + 0.7 + extra + _box_center_along(dx, dy, tw / 2, th / 2)
            centre = (vx + dx * dist, vy + dy * dist)
            yield centre, _quad(centre, (1.0, 0.0), tw / 2, th / 2)


def _length_candidates(label: _Label, a, b, along, outward) -> Iterator[tuple]:
    """Where a side's length may go, best first: outside at the side's midpoint, then inside,
    then further along the side and further from it."""
    tw, th = label.width, label.height
    ox, oy = outward
    off = 0.6 + th / 2
    for frac in (0.5, 0.3, 0.7, 0.15, 0.85):
        for side in (1.0, -1.0):
            for extra in (0.0, 1.5):
                d = side * (off + extra)
                centre = (a[0] + (b[0] - a[0]) * frac + ox * d, a[1] + (b[1] - a[1]) * frac + oy * d)
                yield centre, _quad(centre, along, tw / 2, th / 2)


def draw_plan(
    points: Sequence[tuple[str, float, float]],
    *,
    scale: int | None = None,
    language: str = "ru",
    width_mm: float = 120,
    height_mm: float = 100,
) -> PlanImage:
    """Draw the plot plan: outline, turning points with names, side lengths, north arrow,
    scale bar and numeric scale.  ``scale`` is the denominator (1000 for 1:1000); when
    omitted the smallest standard scale that fits is chosen."""
    if language not in _TEXTS:
        raise ValueError(f"language must be one of {sorted(_TEXTS)}, got {language!r}")
    if not (0 < width_mm <= MAX_SHEET_MM and 0 < height_mm <= MAX_SHEET_MM):
        raise ValueError(f"plan sheet must be at most {MAX_SHEET_MM:.0f} mm a side, got {width_mm}x{height_mm}")
    texts = _TEXTS[language]
    pts = normalize_points(points)
    area = _plot_area_mm(width_mm, height_mm)
    if scale is None:
        scale = choose_scale(pts, width_mm, height_mm)
    else:
        if isinstance(scale, bool) or not isinstance(scale, int) or scale <= 0:
            raise ValueError(f"scale must be a positive integer denominator, got {scale!r}")
        if not _fits(pts, scale, area):
            ew, ns = _extent_m(pts)
            k = 1000.0 / scale
            raise ValueError(
                f"plot of {ew:.2f} x {ns:.2f} m ({ew * k:.1f} x {ns * k:.1f} mm at 1:{scale}) "
                f"does not fit the {area[0]:.0f} x {area[1]:.0f} mm drawing area of a "
                f"{width_mm}x{height_mm} mm plan; use a smaller scale (larger denominator) "
                f"or let it be chosen"
            )

    emf = _Emf(width_mm, height_mm)
    k = 1000.0 / scale  # mm per metre
    xs = [p[1] for p in pts]
    ys = [p[2] for p in pts]
    x_mid, y_mid = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    cx = MARGIN_SIDE_MM + area[0] / 2
    cy = MARGIN_TOP_MM + area[1] / 2
    # page mm: right = east (+Y), down = south (-X)
    page = [(cx + (y - y_mid) * k, cy - (x - x_mid) * k) for _, x, y in pts]
    n = len(page)

    # orientation in page coordinates: with positive signed area the interior lies to
    # the left normal (-dy, dx) of each side, so the outward normal is (dy, -dx)
    signed = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(page, page[1:] + page[:1]))
    orient = 1.0 if signed >= 0 else -1.0
    outward = []
    for i in range(n):
        a, b = page[i], page[(i + 1) % n]
        outward.append(_unit(orient * (b[1] - a[1]), -orient * (b[0] - a[0])))

    # outline
    emf.polygon(page, 0.45)

    # Labels are placed greedily, names first, each at the first candidate position
    # that collides with nothing drawn (outline, point circles, labels placed so far,
    # north arrow, scale band, sheet edge); failing that, at the least bad one.
    r_mm = 0.65
    placer = _Placer(width_mm, height_mm)
    for i in range(n):
        placer.add_segment(page[i], page[(i + 1) % n])
    for vx, vy in page:
        placer.add_box(_quad((vx, vy), (1.0, 0.0), r_mm, r_mm))
    xa = width_mm - MARGIN_SIDE_MM / 2
    placer.add_box(_quad((xa, 14.0), (1.0, 0.0), 3.0, 10.0))  # north arrow
    placer.add_box(_quad((width_mm / 2, height_mm - 8.5), (1.0, 0.0), width_mm / 2, 8.5))  # scale band

    # turning point names, preferably along the outward bisector
    for i, (name, _, _) in enumerate(pts):
        vx, vy = page[i]
        nx, ny = outward[i - 1][0] + outward[i][0], outward[i - 1][1] + outward[i][1]
        bx, by = _unit(nx, ny)
        if bx == 0 and by == 0:  # spike: the sides double back, go along the incoming side
            a = page[i - 1]
            bx, by = _unit(vx - a[0], vy - a[1])
        label = _Label(name, 8)
        centre, _ = placer.place(_name_candidates(label, vx, vy, bx, by, r_mm))
        label.draw(emf, *centre)

    # side lengths, parallel to the side, preferably outside at its midpoint
    for i, (_, _, metres) in enumerate(segment_lengths(pts)):
        a, b = page[i], page[(i + 1) % n]
        label = _Label(format_length(metres), 7)
        angle = math.degrees(math.atan2(-(b[1] - a[1]), b[0] - a[0]))
        if angle > 90:
            angle -= 180
        elif angle <= -90:
            angle += 180
        rad = math.radians(angle)
        along = (math.cos(rad), -math.sin(rad))  # reading direction on the page (y down)
        centre, _ = placer.place(_length_candidates(label, a, b, along, outward[i]))
        label.draw(emf, centre[0], centre[1], angle)

    # turning points over the outline's corners
    for vx, vy in page:
        emf.ellipse(vx, vy, r_mm, 0.2, _WHITE_BRUSH)

    _draw_north_arrow(emf, width_mm, texts["north"])
    _draw_scale_bar(emf, width_mm, height_mm, scale, texts)
    return PlanImage(data=emf.tobytes(), width_mm=float(width_mm), height_mm=float(height_mm), scale=scale)
