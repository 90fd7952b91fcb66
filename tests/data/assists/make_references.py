"""Rebuild references.json from the outlines read by eye (issue 18's assist benchmark).

Round coins were outlined by reading their left, right, top and bottom extremes at 4x zoom on
a 5 px grid; the outline is the ellipse through them (32 vertices). Other objects are the
vertices placed by eye at 5-8x zoom, kept in outlines_by_vertex.json. Each was checked by
drawing it over the photo. Run: .venv/bin/python tests/data/assists/make_references.py
"""

import json
import math
from pathlib import Path

# Coins (coins.png): (left, right, top, bottom) extents read at 4x zoom on a 5 px grid.
EXTENTS = {
    "coin-r1-1": (22, 67, 35, 74),
    "coin-r1-2": (80.5, 119.5, 39.5, 73.5),
    "coin-r1-3": (132, 179, 28.5, 72.5),
    "coin-r1-4": (191, 239.5, 30, 73),
    "coin-r1-5": (255, 295.5, 33.75, 70.5),
    "coin-r1-6": (305, 364.5, 15, 72),
    "coin-r2-1": (24.5, 67, 103.75, 145),
    "coin-r2-2": (83.75, 122.5, 108, 145),
    "coin-r2-3": (134.5, 173.75, 109.5, 145.5),
    "coin-r2-4": (185.5, 227, 104.5, 145),
    "coin-r2-5": (245.5, 296.25, 94.5, 144.5),
    "coin-r2-6": (317, 356.25, 105, 145.5),
    "coin-r3-1": (25, 62, 177, 216.25),
    "coin-r3-2": (80, 124.25, 174.5, 217.5),
    "coin-r3-3": (135, 173.25, 178.75, 217.5),
    "coin-r3-4": (189, 235.5, 172.5, 216.25),
    "coin-r3-6": (315, 380, 155.5, 218.75),
    "coin-r4-1": (18.75, 74.5, 232.5, 288.75),
    "coin-r4-2": (92.5, 135.5, 244.5, 287.5),
    "coin-r4-3": (143.75, 201.25, 235.5, 287),
    "coin-r4-4": (220, 269.5, 240, 287.5),
    "coin-r4-5": (275.5, 325.75, 238.75, 288.75),
    "coin-r4-6": (335.5, 381.25, 248, 287.5),
}
# Irregular outlines: vertices clicked one by one at 4x zoom.
VERTICES = {
    ("coins.png", "coin-r3-5"): [
        (262.5, 173.75),
        (275, 172),
        (287.5, 175),
        (295, 182.5),
        (297, 192.5),
        (295, 202.5),
        (290, 210),
        (280, 214.5),
        (270, 215),
        (261.25, 212),
        (255, 206.25),
        (251.25, 198.75),
        (250.75, 190),
        (253.75, 181.25),
    ],
}
objects = []
for name, (left, r, t, b) in EXTENTS.items():
    cx, cy, rx, ry = (left + r) / 2, (t + b) / 2, (r - left) / 2, (b - t) / 2
    pts = [
        (
            round(cx + rx * math.cos(2 * math.pi * k / 32), 2),
            round(cy + ry * math.sin(2 * math.pi * k / 32), 2),
        )
        for k in range(32)
    ]
    objects.append(
        {
            "image": "coins.png",
            "name": name,
            "how": "ellipse through 4 extremes read by eye",
            "polygon": pts,
        }
    )
for (image, name), pts in VERTICES.items():
    objects.append({"image": image, "name": name, "how": "vertices placed by eye", "polygon": pts})

extra = json.loads(Path(__file__).with_name("outlines_by_vertex.json").read_text())
objects += extra
objects.sort(key=lambda o: (o["image"], o["name"]))
doc = {
    "about": "Hand-made reference outlines for the assist benchmark (issue 18); image pixels, "
    "images in resources/demo-photos (licences: resources/LICENCES.md). See README.md here.",
    "objects": objects,
}
lines = ",\n".join("  " + json.dumps(o) for o in objects)
text = '{"about": ' + json.dumps(doc["about"]) + ',\n "objects": [\n' + lines + "\n]}\n"
Path(__file__).with_name("references.json").write_text(text)
print(len(objects))
