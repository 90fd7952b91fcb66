"""YOLO's box lines are written and read by fast paths (an export writes and reads back one
per box): each must give exactly what the general code gives, for any line, good or bad."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.core.errors import LabelerError
from labeler.core.formats._io import FormatProblem
from labeler.core.formats.model import ImportedShape
from labeler.core.formats.yolo import _line, _parse_line
from labeler.core.shapes import Shape

NAMES: list[str | None] = ["car", None, "dog"]


def _general_parse(tokens: list[str], w: int, h: int) -> ImportedShape:
    """The parse of a 4-number line as the general polygon code does it."""
    vals = [float(t) for t in tokens[1:]]
    if any(not (-0.001 <= v <= 1.001) for v in vals):
        raise ValueError("range")
    cx, cy, bw, bh = vals
    name = NAMES[int(tokens[0])]
    return ImportedShape(
        name,
        "box",
        (((cx - bw / 2) * w, (cy - bh / 2) * h), ((cx + bw / 2) * w, (cy + bh / 2) * h)),
    )


_number = st.one_of(
    st.floats(-0.01, 1.01).map(lambda v: f"{v:.6f}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-0", "1e-3", "0x1", "1_0", "", "abc", "0.5\u0660"]),
)


@settings(max_examples=3000, deadline=None)
@given(cls=st.sampled_from(["0", "2"]), nums=st.lists(_number, min_size=4, max_size=4))
def test_a_box_line_reads_as_the_general_code_reads_it(cls, nums):
    tokens = [cls, *nums]
    try:
        want: object = _general_parse(tokens, 640, 480)
    except ValueError:
        want = "refused"
    except LabelerError:
        want = "refused"
    try:
        got: object = _parse_line(tokens, NAMES, 640, 480)
    except (FormatProblem, LabelerError):
        got = "refused"
    assert got == want


@settings(max_examples=2000, deadline=None)
@given(
    x=st.floats(0, 4000),
    y=st.floats(0, 3000),
    bw=st.floats(0, 4000),
    bh=st.floats(0, 3000),
    index=st.integers(0, 1000),
)
def test_a_box_line_is_written_as_the_general_code_writes_it(x, y, bw, bh, index):
    s = Shape.box(1, x, y, x + bw, y + bh)
    (x1, y1), (x2, y2) = s.points
    w, h = 4000, 3000
    vals = ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h)
    assert _line(s, index, w, h) == " ".join([str(index), *(f"{v:.6f}" for v in vals)])
