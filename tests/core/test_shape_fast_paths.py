"""A stored box is read, and a shape's geometry written, by fast paths (an export reads and
fingerprints every shape of the project): each must equal the general code for any input,
a bad one included."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape, _num

_coord = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from(["1", None, [1], True]),
)
_geometry = st.one_of(
    st.lists(st.lists(_coord, min_size=0, max_size=3), min_size=0, max_size=4).map(json.dumps),
    st.sampled_from(["", "[]", "null", "[[1,2],[3,4]]", "[[1,2],[3,4]"]),
)


def _general(kind, class_id, geometry, sid, group):
    points = json.loads(geometry or "[]")
    return Shape(kind, class_id, tuple(points), sid, group)


def _outcome(f, *args):
    try:
        s = f(*args)
    except (LabelerError, ValueError, TypeError) as e:
        return type(e).__name__
    return (s, s.id, s.group, type(s.points), [type(v) for p in s.points for v in p])


@settings(max_examples=3000, deadline=None)
@given(
    kind=st.sampled_from(["box", "polygon", "tag", "circle"]),
    geometry=_geometry,
    group=st.one_of(st.none(), st.integers(1, 5)),
)
def test_a_stored_shape_reads_as_the_general_code_reads_it(kind, geometry, group):
    want = _outcome(_general, kind, 3, geometry, 17, group)
    assert _outcome(Shape.from_row, kind, 3, geometry, 17, group) == want


@settings(max_examples=3000, deadline=None)
@given(pts=st.lists(st.tuples(st.floats(-1e7, 1e7), st.floats(-1e7, 1e7)), min_size=2, max_size=2))
def test_a_box_geometry_is_written_as_the_general_code_writes_it(pts):
    s = Shape.box(1, pts[0][0], pts[0][1], pts[1][0], pts[1][1])
    general = "[" + ",".join(f"[{_num(x)},{_num(y)}]" for x, y in s.points) + "]"
    assert s.geometry_json() == general
    assert json.loads(s.geometry_json()) == json.loads(general)
