import io
import math

import pytest
from PIL import Image

from docgen.plan import (
    PlanImage,
    choose_scale,
    draw_plan,
    format_length,
    is_simple_polygon,
    polygon_area_m2,
    segment_lengths,
)

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


def decode(plan: PlanImage) -> Image.Image:
    img = Image.open(io.BytesIO(plan.png))
    assert img.format == "PNG"
    img.load()
    return img


def px(mm: float, dpi: int = 300) -> int:
    return round(mm / 25.4 * dpi)


# ----------------------------------------------------------------- area


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


# ----------------------------------------------------------------- simplicity


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


# ----------------------------------------------------------------- lengths


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
    img = decode(plan)
    assert img.size == (px(120), px(100)) == (1417, 1181)
    assert len(plan.png) < 300_000
    dpi = img.info.get("dpi")
    assert dpi and round(dpi[0]) == 300
    g = img.convert("L")
    hist = g.histogram()
    dark = sum(hist[:128])
    assert dark > 0.01 * g.width * g.height  # not blank
    assert sum(hist[1:255]) > 1000  # antialiased: intermediate greys exist

    # 60 m square at 1:1000 = 60 mm, centred in the drawing area x 15..105, y 10..80 mm
    left, right, top, bottom = 30.0, 90.0, 15.0, 75.0

    def dark_in(x0, y0, x1, y1):
        box = g.crop((px(x0), px(y0), px(x1), px(y1)))
        return sum(box.histogram()[:128])

    # each side of the outline is where it should be (between the corner circles)
    assert dark_in(left - 0.5, 25, left + 0.5, 65) > 0.5 * px(40)
    assert dark_in(right - 0.5, 25, right + 0.5, 65) > 0.5 * px(40)
    assert dark_in(40, top - 0.5, 80, top + 0.5) > 0.5 * px(40)
    assert dark_in(40, bottom - 0.5, 80, bottom + 0.5) > 0.5 * px(40)
    # the polygon is not filled, and nothing lies just inside the outline
    assert dark_in(left + 5, top + 5, right - 5, bottom - 5) == 0
    # north arrow top right, scale bar in the bottom band
    assert dark_in(105, 2, 120, 25) > 500
    assert dark_in(30, 82, 90, 100) > 500


def test_draw_plan_orientation_north_up():
    # a triangle with its apex to the north: the apex must be at the top of the image
    tri = [("N", X0 + 60, Y0 + 30), ("E", X0, Y0 + 60), ("W", X0, Y0)]
    g = decode(draw_plan(tri, scale=1000)).convert("L")
    # the drawing area's centre is (60, 45) mm; the apex at (60, 15), the base at y = 75
    col = [g.getpixel((px(60), y)) for y in range(px(12), px(78))]
    first_dark = next(i for i, v in enumerate(col) if v < 128) + px(12)
    assert abs(first_dark - px(15)) < px(2.5)
    # at the apex's height the left and right parts of the plot are empty
    row = g.crop((px(20), px(17), px(100), px(18)))
    dark_cols = [x for x in range(row.width) if row.getpixel((x, 0)) < 128]
    assert dark_cols and min(dark_cols) + px(20) > px(50) and max(dark_cols) + px(20) < px(70)


def test_draw_plan_labels_change_image():
    base = draw_plan(rect(60, 40))
    renamed = draw_plan(rect(60, 40, names=("1", "2", "3", "5")))
    assert base.png != renamed.png
    kazakh_names = draw_plan(rect(60, 40, names=("Ә1", "Қ2", "Ұ3", "Һ4")))
    assert kazakh_names.png != base.png
    # the language changes the texts (north letter, "Масштаб"/"Масштабы")
    kk = draw_plan(rect(60, 40), language="kk")
    assert kk.png != base.png
    # the side lengths are drawn: a slightly different size changes the picture
    assert draw_plan(rect(60.5, 40)).png != base.png
    # deterministic
    assert draw_plan(rect(60, 40)).png == base.png


def test_draw_plan_explicit_closing_point_same_image():
    pts = rect(60, 40)
    assert draw_plan(pts + [pts[0]]).png == draw_plan(pts).png


def test_draw_plan_given_scale():
    plan = draw_plan(rect(60, 40), scale=2000)
    assert plan.scale == 2000
    assert plan.png != draw_plan(rect(60, 40)).png
    with pytest.raises(ValueError, match="does not fit"):
        draw_plan(rect(200, 40), scale=1000)
    with pytest.raises(ValueError):
        draw_plan(rect(60, 40), scale=0)


def test_draw_plan_other_sizes_and_many_points():
    # a 72-gon of radius 300 m on a 180x140 mm sheet at 200 dpi
    pts = [
        (str(i + 1), X0 + 300 * math.cos(2 * math.pi * i / 72), Y0 + 300 * math.sin(2 * math.pi * i / 72))
        for i in range(72)
    ]
    plan = draw_plan(pts, width_mm=180, height_mm=140, dpi=200)
    assert plan.scale == 10000  # 600 m -> 110 mm of drawing height needs 1:10000
    img = decode(plan)
    assert img.size == (px(180, 200), px(140, 200))
    assert len(plan.png) < 300_000


def test_draw_plan_rejects_bad_input():
    with pytest.raises(ValueError):
        draw_plan(rect(60, 40), language="en")
    with pytest.raises(ValueError):
        draw_plan([("1", 0, 0), ("2", 1, 1)])
    with pytest.raises(ValueError):
        draw_plan([("1", 0, 0), ("2", 1, float("nan")), ("3", 2, 0)])


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
    # notch, so a band well inside each arm stays blank
    u = [("1", 60, 0), ("2", 60, 20), ("3", 20, 20), ("4", 20, 50), ("5", 60, 50), ("6", 60, 70), ("7", 0, 70), ("8", 0, 0)]
    pts = [(n, X0 + x, Y0 + y) for n, x, y in u]
    assert is_simple_polygon(pts)
    assert polygon_area_m2(pts) == pytest.approx(70 * 60 - 30 * 40)
    plan = draw_plan(pts, scale=1000)
    g = decode(plan).convert("L")
    # drawing area centre (60, 45) mm; plot 70 x 60 mm -> x 25..95, y 15..75 (north up)
    arms = [(25 + 4, 15 + 4, 25 + 16, 75 - 4), (95 - 16, 15 + 4, 95 - 4, 75 - 4), (25 + 4, 75 - 16, 95 - 4, 75 - 4)]
    for x0, y0, x1, y1 in arms:
        box = g.crop((px(x0), px(y0), px(x1), px(y1)))
        assert sum(box.histogram()[:128]) == 0, (x0, y0, x1, y1)
    # and the notch's bottom side (points 3-4, X = 20 m -> y = 55 mm, x 45..75) is drawn
    side = g.crop((px(50), px(54.5), px(70), px(55.5)))
    assert sum(side.histogram()[:128]) > 0.5 * px(20)
