"""Plot geometry: the rules a boundary polygon must satisfy and what is computed from it.

Pure arithmetic on ``(name, x, y)`` points in metres, Kazakh cadastre convention (X the northing,
Y the easting). The polygon is closed implicitly; an explicitly repeated first point is accepted.
Request validation (`docgen.model`) uses this module; the drawing of the plan (`docgen.plan`)
builds on it. Nothing here imports drawing or imaging code.
"""
from __future__ import annotations

import math
from typing import Sequence

__all__ = [
    "Point",
    "normalize_points",
    "polygon_area_m2",
    "segment_lengths",
    "is_simple_polygon",
]

Point = tuple[str, float, float]

_TOUCH_TOL_M = 1e-6  # points closer than a micrometre count as touching


def normalize_points(points: Sequence[tuple[str, float, float]]) -> list[Point]:
    """Validated ``(name, x, y)`` list without an explicitly repeated closing point.

    Raises ValueError for a malformed point, non-finite coordinates or fewer than 3 points."""
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
    pts = normalize_points(points)
    x0, y0 = pts[0][1], pts[0][2]  # translate: cadastre coordinates are ~1e6 m
    s = 0.0
    for (_, xa, ya), (_, xb, yb) in zip(pts, pts[1:] + pts[:1]):
        s += (xa - x0) * (yb - y0) - (xb - x0) * (ya - y0)
    return abs(s) / 2.0


def segment_lengths(points: Sequence[tuple[str, float, float]]) -> list[tuple[str, str, float]]:
    """``(from, to, metres)`` for every side, the closing side last."""
    pts = normalize_points(points)
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
        pts = normalize_points(points)
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
