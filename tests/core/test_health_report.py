"""The health report: self-contained HTML that parses, and one stable JSON document."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from labeler.core.health import JSON_SCHEMA, HealthData, HealthImage, run_health
from labeler.core.health.html import render_html
from labeler.core.shapes import Shape

VOID = {"meta", "br", "img", "rect", "circle", "line", "hr", "input", "link"}


class _Nesting(HTMLParser):
    """Fails on a closing tag that does not match the open one (an unparseable page)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        self.tags.add(tag)

    def handle_endtag(self, tag) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


@pytest.fixture(scope="module")
def report():
    images = [
        HealthImage(
            i,
            f"/data/{i}.jpg",
            sha256=f"{i % 7:064x}",
            phash=i * 3,
            width=640,
            height=480,
            split=("train", "val", "test")[i % 3],
            exists=True,
            is_grey=i == 5,
        )  # fmt: skip
        for i in range(1, 31)
    ]
    shapes = {
        i: [Shape.box(i % 3, 10 * i, 20, 10 * i + 50, 120), Shape.tag(i % 3)] for i in range(1, 28)
    }
    shapes[2].append(Shape.box(0, 5, 5, 5, 9))
    classes = {0: "cat <b>", 1: "dog & co", 2: "emu", 3: "never"}
    return run_health(HealthData(images, shapes, classes))


def test_html_is_self_contained_and_parses(report) -> None:
    page = render_html(report, "Health of <demo>")
    assert "http://" not in page and "https://" not in page
    assert "<svg" in page and "data:image/png;base64," in page
    parser = _Nesting()
    parser.feed(page)
    parser.close()
    assert parser.stack == []
    assert {"svg", "table", "img", "h2"} <= parser.tags
    assert "<script" not in page
    assert "cat &lt;b&gt;" in page and "Health of &lt;demo&gt;" in page  # names are escaped
    for title in ("Summary", "Findings", "Class balance", "Image sizes", "Annotations"):
        assert f"<h2>{title}</h2>" in page


def test_json_carries_the_same_findings(report) -> None:
    doc = json.loads(report.to_json())
    assert list(doc) == [
        "schema",
        "cancelled",
        "summary",
        "classes",
        "options",
        "findings",
        "stats",
    ]
    assert doc["schema"] == JSON_SCHEMA
    assert [f["check"] for f in doc["findings"]] == [f.check for f in report.findings]
    keys = {
        "check",
        "severity",
        "title",
        "message",
        "suggestion",
        "action",
        "image_ids",
        "pairs",
        "details",
    }
    assert all(set(f) == keys for f in doc["findings"])
    assert doc["summary"]["severity_counts"] == report.severity_counts()
    exact = next(f for f in doc["findings"] if f["check"] == "duplicates.exact")
    assert exact["pairs"][0] == [1, 8, 0]
    assert len(doc["stats"]["annotations"]["heatmaps"]["1"]) == 32
    assert report.to_json() == report.to_json()


def test_findings_come_errors_first(report) -> None:
    order = [f.severity for f in report.findings]
    rank = {"error": 0, "warning": 1, "info": 2}
    assert order == sorted(order, key=rank.__getitem__)
    assert report.by_check("duplicates.leakage").severity == "error"
    assert report.by_check("files.grey_mix").image_ids == [5]


def test_an_empty_project_still_renders() -> None:
    empty = run_health(HealthData([]))
    assert empty.findings == []
    assert "No problems found" in render_html(empty)
    assert json.loads(empty.to_json())["summary"]["images"] == 0
