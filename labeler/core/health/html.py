"""The health report as one self-contained HTML page: inline SVG charts, heatmaps as
base64 PNG, no scripts, no network. Every text from the project is escaped."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

import cv2
import numpy as np

from labeler.core.health.model import Finding, HealthReport, ratio_text

_SPLIT_COLOURS = {"train": "#4363d8", "val": "#f58231", "test": "#3cb44b", "unassigned": "#a9a9a9"}
_SEVERITY_COLOURS = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
_MAX_LISTED = 40

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.sev{color:#fff;border-radius:3px;padding:.1em .5em;font-weight:600}
.cards{display:flex;gap:1em}.card{border:1px solid #ddd;border-radius:6px;padding:.8em 1.2em}
.card b{font-size:1.8em;display:block}.muted{color:#666}.charts{display:flex;flex-wrap:wrap;gap:1em}
.heat{display:inline-block;text-align:center;margin:.3em}code{background:#f4f4f4;padding:0 .2em}
"""


def render_html(report: HealthReport, title: str = "Dataset health") -> str:
    """The whole page as a string (UTF-8 when written)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8" />',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _summary(report),
        _findings_section(report.findings),
        _balance_section(report),
        _duplicates_section(report),
        _files_section(report),
        _annotations_section(report),
        _classifier_section(report),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


# -- sections ---------------------------------------------------------------------------------


def _summary(report: HealthReport) -> str:
    counts = report.severity_counts()
    cards = "".join(
        f'<div class="card" style="border-color:{_SEVERITY_COLOURS[s]}"><b>{counts[s]}</b>{s}s</div>'
        for s in ("error", "warning", "info")
    )
    images = report.stats.get("images", {})
    balance = report.stats.get("balance", {})
    ratio = balance.get("imbalance_ratio")
    facts = [
        ("Images", images.get("total", 0)),
        ("Classes", len(report.classes)),
        ("Imbalance ratio (largest / smallest class)", ratio_text(ratio) if ratio else "n/a"),
        ("Unlabeled images", balance.get("unlabeled_images", "n/a")),
        ("Missing files", images.get("missing", 0)),
        ("Generated images", images.get("generated", 0)),
    ]
    note = (
        "<p><b>The check was stopped early; some sections are missing.</b></p>"
        if report.cancelled
        else ""
    )
    return f'<h2>Summary</h2>{note}<div class="cards">{cards}</div>' + _table(["", ""], facts)


def _findings_section(findings: Sequence[Finding]) -> str:
    if not findings:
        return "<h2>Findings</h2><p>No problems found.</p>"
    rows = []
    for f in findings:
        sev = f'<span class="sev" style="background:{_SEVERITY_COLOURS[f.severity]}">{f.severity}</span>'
        body = (
            f"<b>{escape(f.title)}</b><br />{escape(f.message)}<br />"
            f"<i>Suggestion:</i> {escape(f.suggestion)}"
            + (
                f' <span class="muted">(action <code>{escape(f.action)}</code>)</span>'
                if f.action
                else ""
            )
            + _listing(f)
        )
        rows.append(
            f"<tr><td>{sev}</td><td><code>{escape(f.check)}</code></td><td>{body}</td></tr>"
        )
    return (
        "<h2>Findings</h2><table><tr><th>Severity</th><th>Check</th><th>What and what to do</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _listing(f: Finding) -> str:
    out = ""
    if f.pairs:
        shown = ", ".join(f"{a}&#8596;{b} (d={d})" for a, b, d in f.pairs[:_MAX_LISTED])
        more = (
            f" &#8230; and {len(f.pairs) - _MAX_LISTED} more" if len(f.pairs) > _MAX_LISTED else ""
        )
        out += f'<br /><span class="muted">Pairs:</span> {shown}{more}'
    elif f.image_ids:
        shown = ", ".join(str(i) for i in f.image_ids[:_MAX_LISTED])
        more = (
            f" &#8230; and {len(f.image_ids) - _MAX_LISTED} more"
            if len(f.image_ids) > _MAX_LISTED
            else ""
        )
        out += f'<br /><span class="muted">Images:</span> {shown}{more}'
    for key in ("relink", "images"):
        rows = f.details.get(key)
        if rows:
            heads = list(rows[0])
            out += _table(heads, [[r[h] for h in heads] for r in rows[:_MAX_LISTED]])
    return out


def _balance_section(report: HealthReport) -> str:
    b = report.stats.get("balance")
    if not b:
        return ""
    ids = list(b["images_per_class"])
    names = [report.classes.get(int(c), f"#{c}") for c in ids]
    series = {s: [b["images_per_class_per_split"][s][c] for c in ids] for s in b["splits"]}
    rows = [
        [name, b["images_per_class"][c], b["shapes_per_class"][c]]
        + [b["images_per_class_per_split"][s][c] for s in b["splits"]]
        for name, c in zip(names, ids, strict=True)
    ]
    return (
        "<h2>Class balance</h2>"
        + svg_grouped_bars(names, series, "Images per class and split", _SPLIT_COLOURS)
        + _table(["Class", "Images", "Shapes", *b["splits"]], rows)
    )


def _duplicates_section(report: HealthReport) -> str:
    d = report.stats.get("duplicates")
    if not d:
        return ""
    ratio = d["near_comparisons"] / d["all_pairs"] if d["all_pairs"] else 0.0
    return "<h2>Duplicates</h2>" + _table(
        ["", ""],
        [
            ("Exact-duplicate groups (same SHA-256)", d["exact_groups"]),
            ("Near-duplicate groups", d["near_groups"]),
            ("Near-duplicate pairs", d["near_pairs"]),
            (
                "Hash comparisons made / all pairs",
                f"{d['near_comparisons']:,} / {d['all_pairs']:,} ({ratio:.4%})",
            ),
        ],
    )


def _files_section(report: HealthReport) -> str:
    f = report.stats.get("files")
    if not f or not f.get("count"):
        return ""
    common = _table(["Size (w x h)", "Images"], list(f["common_sizes"].items()))
    return (
        '<h2>Image sizes</h2><div class="charts">'
        + svg_scatter(f["scatter"]["width"], f["scatter"]["height"], "Width vs height (px)")
        + svg_histogram(f["longer_side_histogram"], "Longer side (px)")
        + svg_histogram(f["aspect_ratio_histogram"], "Aspect ratio (width / height)")
        + "</div>"
        + common
    )


def _annotations_section(report: HealthReport) -> str:
    a = report.stats.get("annotations")
    if not a or not a.get("regions"):
        return ""
    heat = "".join(
        f'<div class="heat"><img alt="heatmap {escape(report.classes.get(int(c), c))}" '
        f'src="data:image/png;base64,{heatmap_png(np.array(grid))}" width="160" height="160" />'
        f"<br />{escape(report.classes.get(int(c), f'#{c}'))}</div>"
        for c, grid in a["heatmaps"].items()
    )
    return (
        '<h2>Annotations</h2><div class="charts">'
        + svg_histogram(a["boxes_per_image_histogram"], "Boxes and polygons per labeled image")
        + svg_histogram(a["box_side_histogram"], "Region size (square root of area, px)")
        + "</div><h3>Where each class is annotated</h3>"
        + heat
    )


def _classifier_section(report: HealthReport) -> str:
    c = report.stats.get("classifier")
    if not c:
        return ""
    if "skipped" in c:
        return f"<h2>Label check</h2><p>Skipped: {escape(c['skipped'])}.</p>"
    return "<h2>Label check</h2>" + _table(
        ["", ""],
        [
            ("Images checked", c["images"]),
            ("Classes", ", ".join(c["classes"])),
            ("Out-of-fold accuracy", f"{c['accuracy']:.1%}"),
            ("Balanced accuracy (chance)", f"{c['balanced_accuracy']:.1%} ({c['chance']:.1%})"),
            ("Labels it disputes", c.get("flagged", 0)),
        ],
    )


def _table(heads: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = (
        ""
        if not any(heads)
        else "<tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in heads) + "</tr>"
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>" for r in rows
    )
    return f"<table>{head}{body}</table>"


# -- charts -----------------------------------------------------------------------------------


def svg_grouped_bars(
    labels: Sequence[str], series: dict[str, Sequence[float]], title: str, colours: dict[str, str]
) -> str:
    """Vertical bars, one group per label and one bar per series, with a legend."""
    width, height, left, bottom, top = max(420, 40 + len(labels) * 60), 300, 50, 70, 30
    vmax = max([1.0, *(v for vs in series.values() for v in vs)])
    group = (width - left - 10) / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    scale = (height - bottom - top) / vmax
    out = [_svg_open(width, height, title), _axis_y(left, top, height - bottom, vmax, width)]
    for k, label in enumerate(labels):
        x0 = left + k * group + group * 0.1
        for s, (name, values) in enumerate(series.items()):
            h = values[k] * scale
            out.append(
                f'<rect x="{x0 + s * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colours.get(name, "#888")}"><title>{escape(label)} / '
                f"{escape(name)}: {values[k]}</title></rect>"
            )
        out.append(_label(x0 + group * 0.4, height - bottom + 12, label, rotate=True))
    for s, name in enumerate(series):
        out.append(
            f'<rect x="{left + s * 90}" y="{height - 18}" width="10" height="10" '
            f'fill="{colours.get(name, "#888")}" />'
            f'<text x="{left + s * 90 + 14}" y="{height - 9}" font-size="11">{escape(name)}</text>'
        )
    return "".join(out) + "</svg>"


def svg_histogram(hist: dict[str, list], title: str) -> str:
    """Bars over the bins of ``{"edges": [...], "counts": [...]}`` (a None edge is open)."""
    edges, counts = hist["edges"], hist["counts"]
    labels = [
        f"{_fmt(edges[k])}+" if edges[k + 1] is None else f"{_fmt(edges[k])}-{_fmt(edges[k + 1])}"
        for k in range(len(counts))
    ]
    return svg_grouped_bars(labels, {"count": counts}, title, {"count": "#4363d8"})


def svg_scatter(xs: Sequence[float], ys: Sequence[float], title: str) -> str:
    """Points on linear axes from 0 to the largest value."""
    width, height, left, bottom, top = 360, 300, 50, 40, 30
    xmax, ymax = max([1, *xs]), max([1, *ys])
    sx, sy = (width - left - 15) / xmax, (height - bottom - top) / ymax
    dots = "".join(
        f'<circle cx="{left + x * sx:.1f}" cy="{height - bottom - y * sy:.1f}" r="2.5" '
        'fill="#4363d8" fill-opacity="0.4" />'
        for x, y in zip(xs, ys, strict=True)
    )
    return (
        _svg_open(width, height, title)
        + _axis_y(left, top, height - bottom, ymax, width)
        + _label(width / 2, height - 8, f"width (max {xmax})")
        + dots
        + "</svg>"
    )


def heatmap_png(grid: np.ndarray, side: int = 160) -> str:
    """Base64 PNG of a count grid, normalised to its maximum, in a perceptual colour map."""
    g = grid.astype(np.float64)
    norm = (255 * g / g.max()) if g.max() > 0 else g
    img = cv2.resize(norm.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
    ok, buf = cv2.imencode(".png", cv2.applyColorMap(img, cv2.COLORMAP_VIRIDIS))
    assert ok
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _svg_open(width: float, height: float, title: str) -> str:
    return (
        f'<svg width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" role="img"><title>{escape(title)}</title>'
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" '
        f'font-weight="600">{escape(title)}</text>'
    )


def _axis_y(left: float, top: float, base: float, vmax: float, width: float) -> str:
    out = [f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#999" />']
    for k in range(5):
        v = vmax * k / 4
        y = base - (base - top) * k / 4
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 5}" y2="{y:.1f}" stroke="#eee" />'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_fmt(v)}</text>'
        )
    return "".join(out)


def _label(x: float, y: float, text: str, rotate: bool = False) -> str:
    transform = f' transform="rotate(35 {x:.1f} {y:.1f})"' if rotate else ' text-anchor="middle"'
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="10"{transform}>{escape(text[:18])}</text>'


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 10 else f"{v:.2g}"
