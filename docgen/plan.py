"""Plot plan (план земельного участка / жер учаскесінің жоспары) for the act on the
right to a land plot.

Input points are ``(name, x, y)`` in metres in the Kazakh cadastre convention:
X is the northing (grows to the north), Y the easting (grows to the east).  The
polygon is closed implicitly; an explicitly repeated first point is accepted.

The picture is drawn at a supersampled resolution and downsampled with a box filter,
so lines and text are antialiased; it is a greyscale PNG meant to be printed at
``width_mm`` x ``height_mm`` (the PNG carries the matching dpi).

Point names go along the outward bisector of their vertex and side lengths
outside their side at its midpoint; where that would collide with the outline,
a point or a label already placed, the next of a few candidate positions is
taken (greedy, names first).

Layout of the sheet (mm): the plot is centred in the area left after fixed
margins; the right margin holds the north arrow, the bottom band the scale bar
and the numeric scale.  ``choose_scale`` uses the same area.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "PlanImage",
    "STANDARD_SCALES",
    "draw_plan",
    "segment_lengths",
    "choose_scale",
    "polygon_area_m2",
    "is_simple_polygon",
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

_TOUCH_TOL_M = 1e-6  # points closer than a micrometre count as touching

_TEXTS = {
    "ru": {"north": "С", "scale": "Масштаб", "metre": "м"},
    "kk": {"north": "Т", "scale": "Масштабы", "metre": "м"},
}


@dataclass(frozen=True)
class PlanImage:
    png: bytes  # the picture
    width_mm: float  # size it is meant to be printed at
    height_mm: float
    scale: int  # the scale denominator used, e.g. 1000 for 1:1000


Point = tuple[str, float, float]


# --------------------------------------------------------------------------- geometry


def _normalize(points: Sequence[tuple[str, float, float]]) -> list[Point]:
    """Validated ``(name, x, y)`` list without an explicitly repeated closing point."""
    out: list[Point] = []
    for i, p in enumerate(points):
        try:
            name, x, y = p
            x, y = float(x), float(y)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"point #{i + 1} must be (name, x, y) with numeric x, y: {p!r}") from exc
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"point #{i + 1} ({name}) has non-finite coordinates")
        out.append((str(name), x, y))
    if len(out) > 1 and (out[0][1], out[0][2]) == (out[-1][1], out[-1][2]):
        out.pop()
    if len(out) < 3:
        raise ValueError(f"a plot polygon needs at least 3 points, got {len(out)}")
    return out


def polygon_area_m2(points: Sequence[tuple[str, float, float]]) -> float:
    """Area by the shoelace formula, absolute value, m²."""
    pts = _normalize(points)
    x0, y0 = pts[0][1], pts[0][2]  # translate: cadastre coordinates are ~1e6 m
    s = 0.0
    for (_, xa, ya), (_, xb, yb) in zip(pts, pts[1:] + pts[:1]):
        s += (xa - x0) * (yb - y0) - (xb - x0) * (ya - y0)
    return abs(s) / 2.0


def segment_lengths(points: Sequence[tuple[str, float, float]]) -> list[tuple[str, str, float]]:
    """``(from, to, metres)`` for every side, the closing side last."""
    pts = _normalize(points)
    return [
        (na, nb, math.hypot(xb - xa, yb - ya))
        for (na, xa, ya), (nb, xb, yb) in zip(pts, pts[1:] + pts[:1])
    ]


def _side(a, b, c, tol: float) -> int:
    """-1/0/+1: which side of line a->b the point c lies on (0: within tol of the line)."""
    abx, aby = b[0] - a[0], b[1] - a[1]
    cross = abx * (c[1] - a[1]) - aby * (c[0] - a[0])
    length = math.hypot(abx, aby)
    if length == 0.0:
        return 0 if math.hypot(c[0] - a[0], c[1] - a[1]) <= tol else 1
    if abs(cross) <= tol * length:
        return 0
    return 1 if cross > 0 else -1


def _in_box(a, b, c, tol: float) -> bool:
    return (
        min(a[0], b[0]) - tol <= c[0] <= max(a[0], b[0]) + tol
        and min(a[1], b[1]) - tol <= c[1] <= max(a[1], b[1]) + tol
    )


def _segments_meet(p1, p2, q1, q2, tol: float) -> bool:
    """True if the closed segments p1p2 and q1q2 intersect or touch."""
    if (
        max(p1[0], p2[0]) + tol < min(q1[0], q2[0])
        or max(q1[0], q2[0]) + tol < min(p1[0], p2[0])
        or max(p1[1], p2[1]) + tol < min(q1[1], q2[1])
        or max(q1[1], q2[1]) + tol < min(p1[1], p2[1])
    ):
        return False
    d1, d2 = _side(p1, p2, q1, tol), _side(p1, p2, q2, tol)
    d3, d4 = _side(q1, q2, p1, tol), _side(q1, q2, p2, tol)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return (
        (d1 == 0 and _in_box(p1, p2, q1, tol))
        or (d2 == 0 and _in_box(p1, p2, q2, tol))
        or (d3 == 0 and _in_box(q1, q2, p1, tol))
        or (d4 == 0 and _in_box(q1, q2, p2, tol))
    )


def is_simple_polygon(points: Sequence[tuple[str, float, float]]) -> bool:
    """True if the polygon has >= 3 distinct points, no zero-length side, no spike
    (a side doubling back on the previous one) and no two non-adjacent sides that
    intersect or touch."""
    try:
        pts = _normalize(points)
    except ValueError:
        return False
    x0, y0 = pts[0][1], pts[0][2]
    v = [(x - x0, y - y0) for _, x, y in pts]
    n = len(v)
    if len(set(v)) < 3:
        return False
    tol = _TOUCH_TOL_M
    for i in range(n):
        a, b, c = v[i - 1], v[i], v[(i + 1) % n]
        if math.hypot(c[0] - b[0], c[1] - b[1]) <= tol:
            return False  # zero-length side
        # adjacent sides may only share their common vertex: a collinear turn-back overlaps
        if _side(a, b, c, tol) == 0:
            dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1])
            if dot < 0:
                return False
    for i in range(n):
        p1, p2 = v[i], v[(i + 1) % n]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing side
            if _segments_meet(p1, p2, v[j], v[(j + 1) % n], tol):
                return False
    return True


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
    pts = _normalize(points)
    area = _plot_area_mm(width_mm, height_mm)
    for scale in STANDARD_SCALES:
        if _fits(pts, scale, area):
            return scale
    ew, ns = _extent_m(pts)
    raise ValueError(
        f"plot of {ew:.0f} x {ns:.0f} m does not fit a {width_mm}x{height_mm} mm plan "
        f"even at 1:{STANDARD_SCALES[-1]}"
    )


# --------------------------------------------------------------------------- text helpers


def format_length(metres: float) -> str:
    """Length with 2 decimals and a decimal comma: ``125.4`` -> ``"125,40"``."""
    return f"{metres:.2f}".replace(".", ",")


def _format_scale(scale: int) -> str:
    # Russian/Kazakh typography groups thousands from 10 000 on: 1:1000, 1:10 000
    return f"1:{scale}" if scale < 10000 else "1:" + f"{scale:,}".replace(",", " ")


_FONT_DIRS = (
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/dejavu",
)
_FONT_FILES = {
    False: ("LiberationSans-Regular.ttf", "DejaVuSans.ttf"),
    True: ("LiberationSans-Bold.ttf", "DejaVuSans-Bold.ttf"),
}


@lru_cache(maxsize=None)
def _font_path(bold: bool) -> str | None:
    for name in _FONT_FILES[bold]:
        for d in _FONT_DIRS:
            p = Path(d) / name
            if p.is_file():
                return str(p)
    return None


@lru_cache(maxsize=64)
def _font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = _font_path(bold) or _font_path(False)
    if path is None:
        raise RuntimeError(
            "no Cyrillic TrueType font found (install fonts-liberation or fonts-dejavu-core)"
        )
    return ImageFont.truetype(path, size_px)


# --------------------------------------------------------------------------- drawing


_POSTERIZE_16 = [min(255, round(v / 17) * 17) for v in range(256)]


class _Canvas:
    """Drawing in millimetres on a supersampled greyscale image."""

    def __init__(self, width_mm: float, height_mm: float, dpi: int):
        self.px_w = max(1, round(width_mm / 25.4 * dpi))
        self.px_h = max(1, round(height_mm / 25.4 * dpi))
        self.ss = 3 if dpi <= 400 else 2
        self.ppm = dpi / 25.4 * self.ss  # supersampled pixels per mm
        self.img = Image.new("L", (self.px_w * self.ss, self.px_h * self.ss), 255)
        self.draw = ImageDraw.Draw(self.img)

    def p(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        return x_mm * self.ppm, y_mm * self.ppm

    def w(self, mm: float) -> int:
        return max(1, round(mm * self.ppm))

    def font(self, pt: float, bold: bool = False):
        return _font(max(1, round(pt * 25.4 / 72 * self.ppm)), bold)

    def text_size_mm(self, text: str, font) -> tuple[float, float]:
        l, t, r, b = self.draw.textbbox((0, 0), text, font=font, anchor="mm")
        return (r - l) / self.ppm, (b - t) / self.ppm

    def text(self, x_mm: float, y_mm: float, text: str, font, anchor: str = "mm") -> None:
        self.draw.text(self.p(x_mm, y_mm), text, font=font, fill=0, anchor=anchor)

    def rotated_text(self, x_mm: float, y_mm: float, text: str, font, angle_deg: float) -> None:
        """Text centred at (x, y), rotated counter-clockwise by angle_deg."""
        l, t, r, b = self.draw.textbbox((0, 0), text, font=font, anchor="mm")
        pad = 2
        mask = Image.new("L", (r - l + 2 * pad, b - t + 2 * pad), 0)
        ImageDraw.Draw(mask).text((pad - l, pad - t), text, font=font, fill=255, anchor="mm")
        mask = mask.rotate(angle_deg, resample=Image.BICUBIC, expand=True, fillcolor=0)
        cx, cy = self.p(x_mm, y_mm)
        self.img.paste(0, (round(cx - mask.width / 2), round(cy - mask.height / 2)), mask)

    def png(self, dpi: int) -> bytes:
        # the canvas is an exact multiple of the output: a box filter averages each ss×ss block,
        # which is the antialiasing we want and several times cheaper than LANCZOS
        out = self.img.reduce(self.ss)
        if out.size != (self.px_w, self.px_h):
            out = out.resize((self.px_w, self.px_h), Image.BOX)
        # 16 grey levels are plenty for antialiased line art and halve the PNG size
        out = out.point(_POSTERIZE_16)
        buf = io.BytesIO()
        out.save(buf, format="PNG", compress_level=6, dpi=(dpi, dpi))
        return buf.getvalue()


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

    def place(self, candidates: list) -> tuple:
        """The first candidate ``(centre, quad)`` without collisions, else the least bad."""
        best, best_cost = candidates[0], None
        for cand in candidates:
            cost = self._cost(cand[1])
            if cost == 0:
                best = cand
                break
            if best_cost is None or cost < best_cost:
                best, best_cost = cand, cost
        self.add_box(best[1])
        return best


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


def _draw_north_arrow(c: _Canvas, width_mm: float, letter: str) -> None:
    xc = width_mm - MARGIN_SIDE_MM / 2
    top, head, notch, bottom = 9.0, 15.0, 13.5, 22.0
    half = 2.2
    c.text(xc, 5.5, letter, c.font(11, bold=True))
    c.draw.polygon([c.p(xc, top), c.p(xc - half, head), c.p(xc, notch)], fill=0, outline=0)
    c.draw.line([c.p(xc, top), c.p(xc + half, head), c.p(xc, notch)], fill=0, width=c.w(0.2), joint="curve")
    c.draw.line([c.p(xc, notch), c.p(xc, bottom)], fill=0, width=c.w(0.3))


def _draw_scale_bar(c: _Canvas, width_mm: float, height_mm: float, scale: int, texts: dict) -> None:
    mm_per_m = 1000.0 / scale
    step_m = _nice_step(8.0, mm_per_m)
    step_mm = step_m * mm_per_m
    max_bar = max(step_mm, min(60.0, width_mm - 2 * MARGIN_SIDE_MM - 10))
    nseg = max(1, min(5, int(max_bar // step_mm)))
    bar_mm = nseg * step_mm
    x0 = (width_mm - bar_mm) / 2
    y_top = height_mm - MARGIN_BOTTOM_MM + 7.0
    bar_h = 1.2
    line_w = c.w(0.2)
    label_font = c.font(7)
    for i in range(nseg):
        xa, xb = x0 + i * step_mm, x0 + (i + 1) * step_mm
        box = [c.p(xa, y_top), c.p(xb, y_top + bar_h)]
        c.draw.rectangle(box, fill=0 if i % 2 == 0 else 255, outline=0, width=line_w)
    for i in range(nseg + 1):
        x = x0 + i * step_mm
        c.draw.line([c.p(x, y_top - 0.9), c.p(x, y_top + bar_h)], fill=0, width=line_w)
        c.text(x, y_top - 1.3, _fmt_metres(i * step_m), label_font, anchor="md")
    c.text(x0 + bar_mm + 1.5, y_top + bar_h / 2, texts["metre"], label_font, anchor="lm")
    c.text(width_mm / 2, y_top + bar_h + 5.0, f"{texts['scale']} {_format_scale(scale)}", c.font(9), anchor="mm")


def draw_plan(
    points: Sequence[tuple[str, float, float]],
    *,
    scale: int | None = None,
    language: str = "ru",
    width_mm: float = 120,
    height_mm: float = 100,
    dpi: int = 300,
) -> PlanImage:
    """Draw the plot plan: outline, turning points with names, side lengths, north arrow,
    scale bar and numeric scale.  ``scale`` is the denominator (1000 for 1:1000); when
    omitted the smallest standard scale that fits is chosen."""
    if language not in _TEXTS:
        raise ValueError(f"language must be one of {sorted(_TEXTS)}, got {language!r}")
    if dpi < 50 or dpi > 1200:
        raise ValueError(f"dpi must be within 50..1200, got {dpi}")
    texts = _TEXTS[language]
    pts = _normalize(points)
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

    c = _Canvas(width_mm, height_mm, dpi)
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
    c.draw.line([c.p(*q) for q in page + page[:1]], fill=0, width=c.w(0.45), joint="curve")

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
    name_font = c.font(8)
    for i, (name, _, _) in enumerate(pts):
        vx, vy = page[i]
        nx, ny = outward[i - 1][0] + outward[i][0], outward[i - 1][1] + outward[i][1]
        bx, by = _unit(nx, ny)
        if bx == 0 and by == 0:  # spike: the sides double back, go along the incoming side
            a = page[i - 1]
            bx, by = _unit(vx - a[0], vy - a[1])
        tw, th = c.text_size_mm(name, name_font)
        cands = []
        for extra in (0.0, 1.2, 2.6):
            for turn in _NAME_TURNS:
                t = math.radians(turn)
                dx = bx * math.cos(t) - by * math.sin(t)
                dy = bx * math.sin(t) + by * math.cos(t)
                dist = r_mm + 0.7 + extra + _box_center_along(dx, dy, tw / 2, th / 2)
                centre = (vx + dx * dist, vy + dy * dist)
                cands.append((centre, _quad(centre, (1.0, 0.0), tw / 2, th / 2)))
        centre, _ = placer.place(cands)
        c.text(centre[0], centre[1], name, name_font)

    # side lengths, parallel to the side, preferably outside at its midpoint
    len_font = c.font(7)
    for i, (_, _, metres) in enumerate(segment_lengths(pts)):
        a, b = page[i], page[(i + 1) % n]
        text = format_length(metres)
        tw, th = c.text_size_mm(text, len_font)
        angle = math.degrees(math.atan2(-(b[1] - a[1]), b[0] - a[0]))
        if angle > 90:
            angle -= 180
        elif angle <= -90:
            angle += 180
        rad = math.radians(angle)
        along = (math.cos(rad), -math.sin(rad))  # reading direction on the page (y down)
        ox, oy = outward[i]
        off = 0.6 + th / 2
        cands = []
        for frac in (0.5, 0.3, 0.7, 0.15, 0.85):
            for side in (1.0, -1.0):
                for extra in (0.0, 1.5):
                    d = side * (off + extra)
                    centre = (a[0] + (b[0] - a[0]) * frac + ox * d, a[1] + (b[1] - a[1]) * frac + oy * d)
                    cands.append((centre, _quad(centre, along, tw / 2, th / 2)))
        centre, _ = placer.place(cands)
        c.rotated_text(centre[0], centre[1], text, len_font, angle)

    for vx, vy in page:
        c.draw.ellipse(
            [c.p(vx - r_mm, vy - r_mm), c.p(vx + r_mm, vy + r_mm)], fill=255, outline=0, width=c.w(0.2)
        )

    _draw_north_arrow(c, width_mm, texts["north"])
    _draw_scale_bar(c, width_mm, height_mm, scale, texts)
    return PlanImage(png=c.png(dpi), width_mm=float(width_mm), height_mm=float(height_mm), scale=scale)
