"""Our exports read by datumaro's own importers, in datumaro's own environment.

    make datumaro-check
    # or, with a datumaro environment of your own:
    .venv/bin/python benchmarks/interop/check_datumaro.py --datumaro-python PATH/bin/python

datumaro 1.13 pins Pillow 12 and we ship Pillow 13, so it cannot sit in our environment and
this check is not in the suite: `make datumaro-check` builds `.venv-datumaro` with datumaro
and its own pins (network needed once, like `make test`), and this script, run with our
environment, exports one small project to each format and runs datumaro on each export in a
subprocess of that environment. For each format it prints what datumaro detects, the items
per subset, the annotations per kind and every warning datumaro logs, beside what the project
holds, and exits 1 when a count differs or datumaro warns or fails.

The project: train holds boxes, polygons, a tag, a tag-only image and a background image;
val is empty; test holds a box, two polygons of one class, a cat in two parts (one instance)
and a background image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# ---------------------------------------------------------------- the datumaro side

READER = r"""
import json, logging, sys, warnings
path, fmt = sys.argv[1], sys.argv[2]
logged = []

class Keep(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            logged.append(record.getMessage()[:300])

logging.getLogger().addHandler(Keep())
logging.getLogger().setLevel(logging.WARNING)
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from datumaro.components.dataset import Dataset
    from datumaro.components.environment import Environment
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.contexts.importer import ImportErrorPolicy

    skipped = []

    class Record(ImportErrorPolicy):  # what datumaro skips is said, never dropped unseen
        def _handle_item_error(self, error):
            skipped.append(f"item {error.item_id}: {error.__cause__}"[:300])

        def _handle_annotation_error(self, error):
            skipped.append(f"annotation of {error.item_id}: {error.__cause__}"[:300])

    detected = Environment().detect_dataset(path)
    out = {"detected": sorted(detected)}
    try:
        ds = Dataset.import_from(path, fmt, error_policy=Record())
        subsets, kinds, labels = {}, {}, set()
        for item in ds:
            subsets[item.subset] = subsets.get(item.subset, 0) + 1
            for ann in item.annotations:
                kind = AnnotationType(ann.type).name
                kinds[kind] = kinds.get(kind, 0) + 1
        cats = ds.categories().get(AnnotationType.label)
        out.update(subsets=subsets, kinds=kinds, labels=[c.name for c in cats] if cats else [])
    except Exception as e:  # reported, never hidden
        out["error"] = f"{type(e).__name__}: {e}"[:400]
# datumaro's notes about its own format detectors are not about the files it reads.
out["warnings"] = [m for m in logged + [str(w.message)[:300] for w in caught]
                   if "FormatDetectionConfidence" not in m] + skipped
print(json.dumps(out))
"""

# ---------------------------------------------------------------- our side

CLASSES = [(10, "cat"), (20, "dog"), (30, "car")]
CAT, DOG, CAR = 10, 20, 30


def build_items(src: Path) -> list:
    import cv2
    import numpy as np

    from labeler.core.formats import ExportItem
    from labeler.core.shapes import Shape

    specs = [
        ("mixed.png", 96, 64, "train", [
            Shape.box(CAT, 4, 6, 40, 30),
            Shape.polygon(DOG, [(50, 10), (90, 12), (85, 60), (55, 55)]),
            Shape.box(CAR, 10.5, 35.25, 30.75, 60),
            Shape.tag(CAR),
        ]),
        ("tag-only.png", 64, 48, "train", [Shape.tag(CAT)]),
        ("background.png", 80, 40, "train", []),
        ("many.png", 120, 90, "test", [
            Shape.box(CAR, 0, 0, 120, 90),
            Shape.polygon(DOG, [(10, 10), (40, 12), (30, 50)]),
            Shape.polygon(DOG, [(60, 20), (110, 25), (100, 80), (70, 70), (65, 40)]),
            # one cat in two parts (an occluded object): one instance in every format
            Shape.polygon(CAT, [(5, 60), (25, 60), (20, 85)], group=1),
            Shape.box(CAT, 30, 62, 45, 88, group=1),
        ]),
        ("empty-test.png", 50, 50, "test", []),
    ]  # fmt: skip
    items = []
    for i, (name, w, h, split, shapes) in enumerate(specs, 1):
        img = np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(src / name), img)
        items.append(ExportItem(i, src / name, name, w, h, split, shapes=tuple(shapes)))
    return items


def expected(items: list, fmt: str) -> dict:
    """What datumaro should see in our export: items per subset, annotations per kind."""
    subsets: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for it in items:
        seen_groups: set[int] = set()
        tags = [s for s in it.shapes if s.kind == "tag"]
        if fmt == "imagefolder" and len(tags) != 1:
            continue  # ImageFolder holds an image under its one class (our report says so)
        subsets[it.split] = subsets.get(it.split, 0) + 1
        for s in it.shapes:
            if s.group is not None and s.group in seen_groups:
                if fmt == "coco":  # one annotation, each part a polygon of its segmentation
                    kinds["polygon"] += 1
                continue  # the other formats write one object for the whole instance
            if s.group is not None:
                seen_groups.add(s.group)
            kind = {"box": "bbox", "polygon": "polygon", "tag": "label"}[s.kind]
            if fmt == "coco" and kind in ("bbox", "polygon"):
                # datumaro reads each COCO instance as a polygon and its bbox, one group.
                kinds["polygon"] = kinds.get("polygon", 0) + 1
                kinds["bbox"] = kinds.get("bbox", 0) + 1
                continue
            if fmt in ("yolo-detect", "voc") and kind == "polygon":
                kind = "bbox"  # detection formats hold a polygon's box
            if fmt in ("coco", "yolo-detect", "yolo-segment", "voc") and kind == "label":
                continue  # tags are not held by detection formats (our report says so)
            if fmt == "yolo-segment" and kind == "bbox":
                kind = "polygon"  # a segment export writes a box as its outline
            if fmt == "imagefolder":
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
        if fmt == "imagefolder":
            kinds["label"] = kinds.get("label", 0) + 1
    return {"subsets": subsets, "kinds": kinds}


# format -> (our exporter, datumaro format, the folder datumaro reads)
FORMATS = {
    "coco": ("coco", "coco_instances", "."),
    "yolo-detect": ("yolo-detect", "yolo", "."),
    "yolo-segment": ("yolo-segment", "yolo", "."),
    "voc": ("voc", "voc", "."),
    "imagefolder": ("imagefolder", "imagenet_with_subset_dirs", "."),
}


# Formats datumaro has no reader for: run and shown, never counted as our defect.
NO_READER = {
    "yolo-segment": "datumaro 1.13 has no YOLO-segment reader (its `yolo` takes 5-field lines "
    "and drops other items without a word); Ultralytics' YOLODataset reads this export in "
    "tests/core/test_real_loaders.py",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datumaro-python", required=True, help="a python with datumaro installed")
    ap.add_argument("--keep", help="write the exports here instead of a temporary folder")
    args = ap.parse_args(argv)
    from labeler.core.formats import export_dataset

    version = subprocess.run(
        [args.datumaro_python, "-c", "import datumaro; print(datumaro.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"datumaro {version}")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        src = root / "src"
        src.mkdir(parents=True, exist_ok=True)
        items = build_items(src)
        print(f"{'format':<14} {'datumaro reads as':<18} {'items':<22} {'annotations':<36} verdict")
        for name, (ours, theirs, sub) in FORMATS.items():
            out = root / name
            report = export_dataset(
                ours, items, CLASSES, out, overwrite=True, manifest={"name": name, "seed": 1}
            )
            assert report.verified, name
            run = subprocess.run(
                [args.datumaro_python, "-c", READER, str(out / sub), theirs],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            try:
                got = json.loads(run.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                got = {"error": (run.stderr.strip().splitlines() or ["no output"])[-1]}
            want = expected(items, name)
            problems = []
            if "error" in got:
                problems.append(got["error"])
            else:
                # datumaro lists an empty subset it was told about with 0 items: drop those.
                subsets = {k: v for k, v in got["subsets"].items() if v}
                if subsets != want["subsets"]:
                    problems.append(f"items {subsets} != {want['subsets']}")
                if got["kinds"] != want["kinds"]:
                    problems.append(f"annotations {got['kinds']} != {want['kinds']}")
            problems += [f"warns: {w}" for w in got.get("warnings", [])]
            verdict = "ok" if not problems else "; ".join(problems)
            if name in NO_READER:
                verdict = f"not counted: {NO_READER[name]} (datumaro said: {verdict})"
            else:
                bad += bool(problems)
            detected = ",".join(got.get("detected", [])) or "-"
            print(
                f"{name:<14} {theirs:<18} {json.dumps(got.get('subsets', {})):<22} "
                f"{json.dumps(got.get('kinds', {})):<36} {verdict}  (detects: {detected})"
            )
    print("all read as exported" if not bad else f"{bad} format(s) differ: see above")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
