"""The plot plan: geometry (docgen.geometry) and the drawing (docgen.plan, an EMF).

The drawing is read back record by record (an independent EMF reader below) and checked for where
things are on the sheet; one slow test renders the act through LibreOffice and finds the outline's
corners, the point names and the side lengths on the PDF page where they belong."""
from __future__ import annotations

import math
import struct
import subprocess
import sys

import pytest

from docgen.geometry import is_simple_polygon, normalize_points, polygon_area_m2, segment_lengths
from docgen.plan import PlanImage, choose_scale, draw_plan, format_length
from tests.conftest import ROOT, example, run

# Cadastre-sized coordinates: X northing, Y easting (metres)
X0, Y0 = 5_650_000.0, 1_380_000.0


def rect(east: float, north: float, names=("1", "2", "3", "4")):
    """Rectangle ``east`` m wide (along Y) and ``north`` m tall (along X)."""
    return [
        (names[0], X0 + north, Y0),
        (names[1], X0 + north, Y0 + east),
        (names[2], X0, Y0 + east),
        (names[3], X0, Y0),
    ]


# ----------------------------------------------------------------- reading an EMF back

STOCK = {0x80000000: "white", 0x80000004: "black", 0x80000005: "none"}


class Drawing:
    """What an EMF draws, in mm from the sheet's top left (logical unit 0.01 mm, as declared)."""

    def __init__(self, emf: bytes):
        assert emf[:4] == struct.pack("<I", 1), "first record is not EMR_HEADER"
        hsize = struct.unpack_from("<I", emf, 4)[0]
        bounds = struct.unpack_from("<4i", emf, 8)
        frame = struct.unpack_from("<4i", emf, 24)
        sig, _, nbytes, nrecords, nhandles = struct.unpack_from("<IIIIH", emf, 40)
        device = struct.unpack_from("<2i", emf, 72)
        mm = struct.unpack_from("<2i", emf, 80)
        assert sig == 0x464D4520 and nbytes == len(emf)
        # the reference device maps one logical unit to 0.01 mm
        assert device[0] / mm[0] == pytest.approx(100, rel=0.01) and device[1] / mm[1] == pytest.approx(100, rel=0.01)
        assert frame == bounds
        self.width_mm, self.height_mm = (frame[2] + 1) / 100, (frame[3] + 1) / 100
        self.polygons, self.lines, self.ellipses, self.rects, self.texts = [], [], [], [], []
        objects, pen, brush, font, align = {}, None, None, None, 0
        off, count, last = hsize, 1, None
        while off < len(emf):
            rtype, size = struct.unpack_from("<II", emf, off)
            assert size >= 8 and size % 4 == 0 and off + size <= len(emf), (rtype, size)
            p = emf[off + 8: off + size]
            count += 1
            last = rtype
            if rtype == 95:  # EXTCREATEPEN
                ih = struct.unpack_from("<I", p)[0]
                objects[ih] = ("pen", struct.unpack_from("<I", p, 24)[0] / 100)
            elif rtype == 82:  # EXTCREATEFONTINDIRECTW
                ih, height, _, esc, _, weight = struct.unpack_from("<Iiiiii", p)
                face = p[32:96].decode("utf-16-le").split("\0")[0]
                angle = esc / 10 if esc <= 1800 else esc / 10 - 360  # counter-clockwise, -180..180
                objects[ih] = ("font", -height / 100, weight >= 700, angle, face)
            elif rtype == 37:  # SELECTOBJECT
                ih = struct.unpack_from("<I", p)[0]
                if ih in STOCK:
                    brush = STOCK[ih]
                else:
                    assert ih < nhandles, "handle outside the declared table"
                    obj = objects[ih]
                    if obj[0] == "pen":
                        pen = obj[1]
                    else:
                        font = obj[1:]
            elif rtype == 22:
                align = struct.unpack_from("<I", p)[0]
            elif rtype in (3, 4):  # POLYGON, POLYLINE
                n = struct.unpack_from("<I", p, 16)[0]
                pts = [(x / 100, y / 100) for x, y in struct.iter_unpack("<2i", p[20:20 + 8 * n])]
                (self.polygons if rtype == 3 else self.lines).append((pts, pen, brush if rtype == 3 else None))
            elif rtype == 42:
                x0, y0, x1, y1 = (v / 100 for v in struct.unpack_from("<4i", p))
                self.ellipses.append(((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, brush))
            elif rtype == 43:
                self.rects.append((tuple(v / 100 for v in struct.unpack_from("<4i", p)), brush))
            elif rtype == 84:  # EXTTEXTOUTW
                x, y, n, off_string, _ = struct.unpack_from("<2iIII", p, 28)
                off_dx = struct.unpack_from("<I", p, 64)[0]
                text = p[off_string - 8: off_string - 8 + 2 * n].decode("utf-16-le")
                dx = struct.unpack_from(f"<{n}i", p, off_dx - 8)
                size_mm, bold, angle, face = font
                self.texts.append(Text(text, x / 100, y / 100, sum(dx) / 100, size_mm, bold, angle,
                                       "center" if align & 6 == 6 else "left", face))
            off += size
        assert last == 14, "last record is not EMR_EOF"
        assert count == nrecords

    def text(self, s: str) -> "Text":
        found = [t for t in self.texts if t.text == s]
        assert len(found) == 1, (s, [t.text for t in self.texts])
        return found[0]


class Text:
    def __init__(self, text, x, y, width, size, bold, angle, align, face):
        self.text, self.x, self.y, self.width, self.size = text, x, y, width, size
        self.bold, self.angle, self.align, self.face = bold, angle, align, face

    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned box around the text: its advance across, an em from 0.8 above the
        baseline to 0.2 below, rotated with it (page y grows downward)."""
        x0 = -self.width / 2 if self.align == "center" else 0.0
        corners = [(x0, -0.8 * self.size), (x0 + self.width, -0.8 * self.size),
                   (x0 + self.width, 0.2 * self.size), (x0, 0.2 * self.size)]
        a = math.radians(self.angle)
        pts = [(self.x + u * math.cos(a) + v * math.sin(a), self.y - u * math.sin(a) + v * math.cos(a))
               for u, v in corners]
        return (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))

    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box()
        return (x0 + x1) / 2, (y0 + y1) / 2


def drawing(plan: PlanImage) -> Drawing:
    assert plan.format == "emf"
    return Drawing(plan.data)


def overlaps(box, area) -> bool:
    return not (box[2] <= area[0] or box[0] >= area[2] or box[3] <= area[1] or box[1] >= area[3])


# ----------------------------------------------------------------- geometry


def test_validation_needs_no_imaging_code():
    """Request validation uses the geometry; Pillow and the document machinery stay unloaded."""
    code = ("import sys, docgen.geometry, docgen.model;"
            "print(sorted(m for m in ('PIL', 'docxtpl', 'lxml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_area_rectangle():
    assert polygon_area_m2(rect(40, 25)) == pytest.approx(1000.0, abs=1e-6)
    # orientation does not matter, an explicit closing point is accepted
    pts = list(reversed(rect(40, 25)))
    assert polygon_area_m2(pts + [pts[0]]) == pytest.approx(1000.0, abs=1e-6)


def test_area_irregular():
    # pentagon: 4x3 rectangle + triangle of base 4 and height 2 -> 12 + 4
    penta = [("a", 0, 0), ("b", 4, 0), ("c", 4, 3), ("d", 2, 5), ("e", 0, 3)]
    assert polygon_area_m2(penta) == pytest.approx(16.0)
    # concave L: 10x10 minus 6x6
    l_shape = [("1", 0, 0), ("2", 10, 0), ("3", 10, 4), ("4", 4, 4), ("5", 4, 10), ("6", 0, 10)]
    assert polygon_area_m2(l_shape) == pytest.approx(64.0)
    # same at cadastre magnitudes: no loss of precision
    far = [(n, X0 + x, Y0 + y) for n, x, y in l_shape]
    assert polygon_area_m2(far) == pytest.approx(64.0, abs=1e-6)


def test_area_needs_three_points():
    with pytest.raises(ValueError):
        polygon_area_m2([("1", 0, 0), ("2", 1, 1)])
    with pytest.raises(ValueError):
        polygon_area_m2([("1", 0, 0), ("2", 1, 1), ("1", 0, 0)])


def test_normalize_points():
    assert normalize_points([("1", "0", 0), ("2", 1, 0), ("3", 1, 1), ("1", 0, 0)]) == [
        ("1", 0.0, 0.0), ("2", 1.0, 0.0), ("3", 1.0, 1.0)]
    with pytest.raises(ValueError, match="non-finite"):
        normalize_points([("1", 0, 0), ("2", 1, float("inf")), ("3", 2, 0)])
    with pytest.raises(ValueError, match="numeric"):
        normalize_points([("1", 0, 0), ("2", "x", 0), ("3", 2, 0)])


def test_simple_polygons():
    assert is_simple_polygon(rect(40, 25))
    assert is_simple_polygon([("1", 0, 0), ("2", 10, 0), ("3", 10, 4), ("4", 4, 4), ("5", 4, 10), ("6", 0, 10)])
    # a turning point lying on a straight side is fine
    assert is_simple_polygon([("1", 0, 0), ("2", 5, 0), ("3", 10, 0), ("4", 10, 10), ("5", 0, 10)])
    # explicitly closed
    pts = rect(3, 4)
    assert is_simple_polygon(pts + [pts[0]])


def test_bow_tie_is_not_simple():
    assert not is_simple_polygon([("1", 0, 0), ("2", 10, 10), ("3", 10, 0), ("4", 0, 10)])
    far = [("1", X0, Y0), ("2", X0 + 10, Y0 + 10), ("3", X0 + 10, Y0), ("4", X0, Y0 + 10)]
    assert not is_simple_polygon(far)


def test_degenerate_polygons_are_not_simple():
    # a vertex touching a non-adjacent side
    assert not is_simple_polygon([("1", 0, 0), ("2", 10, 0), ("3", 10, 10), ("4", 5, 0), ("5", 0, 10)])
    # the same point visited twice (figure eight through a vertex)
    assert not is_simple_polygon(
        [("1", 0, 0), ("2", 5, 5), ("3", 10, 0), ("4", 10, 10), ("5", 5, 5), ("6", 0, 10)]
    )
    # spike: a side doubling back on the previous one
    assert not is_simple_polygon([("1", 0, 0), ("2", 10, 0), ("3", 5, 0), ("4", 5, 5)])
    # all collinear, too few distinct points, zero-length side
    assert not is_simple_polygon([("1", 0, 0), ("2", 1, 1), ("3", 2, 2)])
    assert not is_simple_polygon([("1", 0, 0), ("2", 1, 1)])
    assert not is_simple_polygon([("1", 0, 0), ("2", 0, 0), ("3", 1, 0), ("4", 1, 1)])


def test_segment_lengths():
    tri = [("A", 0, 0), ("B", 3, 0), ("C", 3, 4)]
    got = segment_lengths(tri)
    assert [(a, b) for a, b, _ in got] == [("A", "B"), ("B", "C"), ("C", "A")]
    assert [m for _, _, m in got] == pytest.approx([3.0, 4.0, 5.0])
    # an explicit closing point does not add a zero-length side
    assert len(segment_lengths(tri + [("A", 0, 0)])) == 3
    assert [m for *_, m in segment_lengths(rect(40, 25))] == pytest.approx([40, 25, 40, 25])


def test_format_length():
    assert format_length(125.4) == "125,40"
    assert format_length(3) == "3,00"
    assert format_length(0.005) in ("0,01", "0,00")  # binary rounding, but always 2 decimals


# ----------------------------------------------------------------- scale


def test_choose_scale():
    # default sheet 120x100 mm leaves a 90 x 70 mm drawing area
    assert choose_scale(rect(10, 10), 120, 100) == 500
    assert choose_scale(rect(44, 34), 120, 100) == 500
    assert choose_scale(rect(46, 30), 120, 100) == 1000
    assert choose_scale(rect(80, 60), 120, 100) == 1000
    assert choose_scale(rect(100, 60), 120, 100) == 2000
    # X is northing: a plot tall along X needs the height of the sheet
    assert choose_scale(rect(60, 80), 120, 100) == 2000
    assert choose_scale(rect(200, 170), 120, 100) == 2500
    assert choose_scale(rect(400, 100), 120, 100) == 5000
    assert choose_scale(rect(2000, 1000), 120, 100) == 25000
    assert choose_scale(rect(40_000, 40_000), 120, 100) == 1_000_000
    # a larger sheet takes a larger scale
    assert choose_scale(rect(100, 60), 200, 150) == 1000


def test_choose_scale_errors():
    with pytest.raises(ValueError):
        choose_scale(rect(10_000_000, 10), 120, 100)
    with pytest.raises(ValueError):
        choose_scale(rect(10, 10), 25, 100)  # margins alone exceed the width


# ----------------------------------------------------------------- drawing


def test_draw_plan_size_and_content():
    plan = draw_plan(rect(60, 60))
    assert plan.scale == 1000
    assert (plan.width_mm, plan.height_mm) == (120, 100)
    d = drawing(plan)
    assert (d.width_mm, d.height_mm) == (120, 100)
    assert len(plan.data) < 20_000

    # 60 m square at 1:1000 = 60 mm, centred in the drawing area x 15..105, y 10..80 mm
    left, right, top, bottom = 30.0, 90.0, 15.0, 75.0
    corners = {"1": (left, top), "2": (right, top), "3": (right, bottom), "4": (left, bottom)}
    (outline, pen, fill), = [p for p in d.polygons if len(p[0]) == 4]
    assert outline == [pytest.approx(c, abs=0.01) for c in corners.values()]
    assert pen == pytest.approx(0.45) and fill == "none"  # an outline, not filled
    # a small white circle on every turning point
    for x, y in corners.values():
        assert any(math.dist((ex, ey), (x, y)) < 0.01 and r == pytest.approx(0.65) and b == "white"
                   for ex, ey, r, b in d.ellipses)
    # every name near its point, outside the plot; nothing written inside it
    inside = (left + 0.5, top + 0.5, right - 0.5, bottom - 0.5)
    for name, (x, y) in corners.items():
        t = d.text(name)
        assert math.dist(t.centre(), (x, y)) < 4.0 and not overlaps(t.box(), inside), name
        assert t.face == "Times New Roman" and t.size == pytest.approx(8 * 25.4 / 72, abs=0.01)
    # the four side lengths, parallel to their sides, near their middles, outside
    lengths = [t for t in d.texts if t.text == "60,00"]
    assert len(lengths) == 4
    middles = [((left + right) / 2, top), (right, (top + bottom) / 2), ((left + right) / 2, bottom),
               (left, (top + bottom) / 2)]
    for mx, my in middles:
        (t,) = [t for t in lengths if math.dist(t.centre(), (mx, my)) < 3.0]
        assert t.angle % 180 == pytest.approx(0 if my in (top, bottom) else 90)
        assert not overlaps(t.box(), inside)
    # north arrow top right: its letter and a filled half arrowhead in the right margin
    north = d.text("С")
    assert north.x > 105 and north.y < 10 and north.bold
    assert any(fill == "black" and min(x for x, _ in pts) > 105 and max(y for _, y in pts) < 25
               for pts, _, fill in d.polygons)
    # scale bar in the bottom band, alternating black and white, and the numeric scale
    bar = [r for r in d.rects if r[0][1] > 80]
    assert len(bar) >= 2 and [b for _, b in bar[:2]] == ["black", "white"]
    scale = d.text("Масштаб 1:1000")
    assert scale.y > 85 and scale.x == pytest.approx(60)


def test_side_lengths_run_along_their_sides():
    # a plot turned by 30 degrees: every length is written parallel to its side, upright
    # (turned by less than 90 degrees either way), beside the side's middle
    turn = math.radians(30)
    corners = [(0, 0), (50, 0), (50, 30), (0, 30)]  # (east, north) metres
    pts = [(str(i + 1), X0 + e * math.sin(turn) + n * math.cos(turn), Y0 + e * math.cos(turn) - n * math.sin(turn))
           for i, (e, n) in enumerate(corners)]
    d = drawing(draw_plan(pts, scale=1000))
    (outline, _, _), = [p for p in d.polygons if p[1] == pytest.approx(0.45)]
    for i, (_, _, metres) in enumerate(segment_lengths(pts)):
        (ax, ay), (bx, by) = outline[i], outline[(i + 1) % 4]
        (t,) = [x for x in d.texts if x.text == format_length(metres)
                and math.dist(x.centre(), ((ax + bx) / 2, (ay + by) / 2)) < 3]
        side = math.degrees(math.atan2(-(by - ay), bx - ax))  # counter-clockwise on the page
        assert -90 < t.angle <= 90
        assert (t.angle - side) % 180 == pytest.approx(0, abs=0.2) or (t.angle - side) % 180 == pytest.approx(180, abs=0.2)


def test_draw_plan_orientation_north_up():
    # a triangle with its apex to the north: the apex must be at the top of the sheet
    tri = [("N", X0 + 60, Y0 + 30), ("E", X0, Y0 + 60), ("W", X0, Y0)]
    d = drawing(draw_plan(tri, scale=1000))
    (outline, _, _), = [p for p in d.polygons if p[1] == pytest.approx(0.45)]
    # the drawing area's centre is (60, 45) mm; the apex at (60, 15), the base at y = 75
    assert outline == [pytest.approx(p, abs=0.01) for p in [(60, 15), (90, 75), (30, 75)]]
    assert d.text("N").centre()[1] < 15 and d.text("E").centre()[0] > 88 and d.text("W").centre()[0] < 32


def test_draw_plan_labels_change_image():
    base = draw_plan(rect(60, 40))
    renamed = draw_plan(rect(60, 40, names=("1", "2", "3", "5")))
    assert base.data != renamed.data
    kazakh_names = drawing(draw_plan(rect(60, 40, names=("Ә1", "Қ2", "Ұ3", "Һ4"))))
    assert {t.text for t in kazakh_names.texts} >= {"Ә1", "Қ2", "Ұ3", "Һ4"}
    # the language changes the texts ("Масштаб"/"Масштабы"); north is «С» in both (Солтүстік, Север)
    kk = drawing(draw_plan(rect(60, 40), language="kk"))
    assert kk.text("С").bold and kk.text("Масштабы 1:1000")
    # the side lengths are drawn: a slightly different size changes them
    assert {t.text for t in drawing(draw_plan(rect(60.5, 40))).texts} >= {"60,50", "40,00"}
    # deterministic
    assert draw_plan(rect(60, 40)).data == base.data


def test_draw_plan_explicit_closing_point_same_image():
    pts = rect(60, 40)
    assert draw_plan(pts + [pts[0]]).data == draw_plan(pts).data


def test_draw_plan_given_scale():
    plan = draw_plan(rect(60, 40), scale=2000)
    assert plan.scale == 2000
    (outline, _, _), = [p for p in drawing(plan).polygons if len(p[0]) == 4]
    xs = [x for x, _ in outline]
    assert max(xs) - min(xs) == pytest.approx(30)  # 60 m at 1:2000
    assert drawing(plan).text("Масштаб 1:2000")
    with pytest.raises(ValueError, match="does not fit"):
        draw_plan(rect(200, 40), scale=1000)
    with pytest.raises(ValueError):
        draw_plan(rect(60, 40), scale=0)


def test_draw_plan_other_sizes_and_many_points():
    # a 72-gon of radius 300 m on a 180x140 mm sheet
    pts = [
        (str(i + 1), X0 + 300 * math.cos(2 * math.pi * i / 72), Y0 + 300 * math.sin(2 * math.pi * i / 72))
        for i in range(72)
    ]
    plan = draw_plan(pts, width_mm=180, height_mm=140)
    assert plan.scale == 10000  # 600 m -> 110 mm of drawing height needs 1:10000
    d = drawing(plan)
    assert (d.width_mm, d.height_mm) == (180, 140)
    assert {str(i + 1) for i in range(72)} <= {t.text for t in d.texts}
    assert d.text("Масштаб 1:10 000")  # thousands grouped from 10 000 on
    assert len(plan.data) < 60_000


def test_draw_plan_rejects_bad_input():
    with pytest.raises(ValueError):
        draw_plan(rect(60, 40), language="en")
    with pytest.raises(ValueError):
        draw_plan([("1", 0, 0), ("2", 1, 1)])
    with pytest.raises(ValueError):
        draw_plan([("1", 0, 0), ("2", 1, float("nan")), ("3", 2, 0)])
    with pytest.raises(ValueError):
        draw_plan(rect(60, 40), width_mm=600)


def test_label_placer_avoids_collisions():
    from docgen.plan import _Placer, _quad, _separated

    sq = _quad((10, 10), (1.0, 0.0), 2, 1)
    assert not _separated(sq, _quad((11, 10.5), (1.0, 0.0), 2, 1))
    assert _separated(sq, _quad((20, 10), (1.0, 0.0), 2, 1))
    # a rotated box whose corner pokes into the square; a segment crossing it
    assert not _separated(sq, _quad((12.5, 12.5), (0.7071, 0.7071), 2, 1))
    assert not _separated(sq, [(5, 10), (15, 10)])
    assert _separated(sq, [(5, 13), (15, 13)])

    placer = _Placer(120, 100)
    placer.add_segment((0, 50), (120, 50))  # a side running through the first candidate
    first = ((60, 50), _quad((60, 50), (1.0, 0.0), 3, 1))
    second = ((60, 53), _quad((60, 53), (1.0, 0.0), 3, 1))
    third = ((60, 56), _quad((60, 56), (1.0, 0.0), 3, 1))
    assert placer.place([first, second])[0] == (60, 53)
    # the box just placed is an obstacle now
    assert placer.place([second, third])[0] == (60, 56)
    # off the sheet is avoided too
    off = ((1, 10), _quad((1, 10), (1.0, 0.0), 3, 1))
    assert placer.place([off, ((30, 10), _quad((30, 10), (1.0, 0.0), 3, 1))])[0] == (30, 10)


def test_concave_plot_labels_stay_outside():
    # a U-shaped plot at 1:1000: every label goes outside the polygon or into the
    # notch, so a band well inside each arm stays free of text
    u = [("1", 60, 0), ("2", 60, 20), ("3", 20, 20), ("4", 20, 50), ("5", 60, 50), ("6", 60, 70), ("7", 0, 70), ("8", 0, 0)]
    pts = [(n, X0 + x, Y0 + y) for n, x, y in u]
    assert is_simple_polygon(pts)
    assert polygon_area_m2(pts) == pytest.approx(70 * 60 - 30 * 40)
    d = drawing(draw_plan(pts, scale=1000))
    # drawing area centre (60, 45) mm; plot 70 x 60 mm -> x 25..95, y 15..75 (north up)
    arms = [(25 + 4, 15 + 4, 25 + 16, 75 - 4), (95 - 16, 15 + 4, 95 - 4, 75 - 4), (25 + 4, 75 - 16, 95 - 4, 75 - 4)]
    assert {t.text for t in d.texts} >= {n for n, _, _ in u} | {"20,00", "30,00", "40,00", "60,00", "70,00"}
    for t in d.texts:
        for arm in arms:
            assert not overlaps(t.box(), arm), (t.text, arm)
    # and the notch's bottom side (points 3-4, X = 20 m -> y = 55 mm, x 45..75) is part of the outline
    (outline, _, _), = [p for p in d.polygons if len(p[0]) == 8]
    assert outline[2] == pytest.approx((45, 55), abs=0.01) and outline[3] == pytest.approx((75, 55), abs=0.01)


# ----------------------------------------------------------------- on the rendered page


def _words(pdf) -> list[tuple[str, float, float, float, float]]:
    """(word, xMin, yMin, xMax, yMax) in points on page 1."""
    import re

    out = run("pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-")
    assert out.returncode == 0, out.stderr
    return [(w, float(a), float(b), float(c), float(e)) for a, b, c, e, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        out.stdout.decode())]


@pytest.mark.slow
def test_rendered_act_shows_the_plan_where_it_belongs(renderer, tmp_path):
    """LibreOffice draws the vector plan: text on the page (the names and lengths can be found and
    searched), the outline's corners dark exactly where the drawing puts them, its inside blank."""
    from PIL import Image

    from docgen.request import parse_request

    raw = example("land_right_act", "ru")
    r = renderer.render(parse_request(raw))
    pdf = tmp_path / "act.pdf"
    pdf.write_bytes(r.pdf)
    pts = [(p["name"], p["x"], p["y"]) for p in raw["data"]["plan"]["points"]]
    plan = draw_plan(pts, language="ru", width_mm=95, height_mm=80)  # what the view draws
    d = drawing(plan)
    mm = 72 / 25.4  # PDF points per mm
    words = _words(pdf)
    # the numeric scale locates the drawing on the page (its text is centred on the sheet)
    (scale_word,) = [w for w in words if w[0] == f"1:{plan.scale}"]
    (scale_label,) = [w for w in words if w[0] == "Масштаб" and abs(w[4] - scale_word[4]) < 1]
    scale_text = d.text(f"Масштаб 1:{plan.scale}")
    origin_x = (scale_label[1] + scale_word[3]) / 2 / mm - scale_text.x
    origin_y = scale_word[4] / mm - scale_text.y - 0.25 * scale_text.size  # descent below the baseline
    # every point name is printed next to its corner, once in the plan (and once in the table)
    (outline, _, _), = [p for p in d.polygons if len(p[0]) == len(pts)]
    for (name, _, _), (x, y) in zip(pts, outline):
        near = [w for w in words if w[0] == name
                and math.dist(((w[1] + w[3]) / 2 / mm, (w[2] + w[4]) / 2 / mm), (origin_x + x, origin_y + y)) < 5]
        assert len(near) == 1, (name, near)
    # every side length appears twice: in the table of lines and along its side
    for _, _, metres in segment_lengths(pts):
        assert sum(w[0] == format_length(metres) for w in words) == 2, format_length(metres)
    # the corners are dark on the page, the plot's inside is blank
    dpi = 150
    assert run("pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", "1", "-l", "1", str(pdf),
               str(tmp_path / "page")).returncode == 0
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")

    def px(x_mm, y_mm):
        return round((origin_x + x_mm) / 25.4 * dpi), round((origin_y + y_mm) / 25.4 * dpi)

    def darkest_near(x_mm, y_mm, r_mm):
        cx, cy = px(x_mm, y_mm)
        r = round(r_mm / 25.4 * dpi)
        return page.crop((cx - r, cy - r, cx + r + 1, cy + r + 1)).getextrema()[0]

    for i, (x, y) in enumerate(outline):
        nx, ny = outline[(i + 1) % len(outline)]
        assert darkest_near(x, y, 1.2) < 80, ("corner", i)
        assert darkest_near((x + nx) / 2, (y + ny) / 2, 1.0) < 80, ("side", i)
    cx = sum(x for x, _ in outline) / len(outline)
    cy = sum(y for _, y in outline) / len(outline)
    assert darkest_near(cx, cy, 8) > 200, "the plot's inside should be blank"
    # no raster plan: the only picture on the page is the QR code
    images = run("pdfimages", "-list", str(pdf)).stdout.decode().splitlines()[2:]
    assert len(images) == 1 and int(images[0].split()[3]) < 300, images
