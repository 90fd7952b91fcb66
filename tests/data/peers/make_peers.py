"""Writes the peer samples: minimal files of our own in the layouts other tools write
(CVAT, COCO's non-instances files, Roboflow, darknet, Label Studio, X-AnyLabeling,
labelme and its labelme2coco), on
small crops of the CC0 photos in ``resources/demo-photos`` (see LICENCES.md here).

Run from the repository root: ``python tests/data/peers/make_peers.py``. The files it
writes are committed; ``tests/core/test_peer_files.py`` imports each with exact counts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
PHOTOS = HERE.parents[2] / "resources" / "demo-photos"
W, H = 80, 60


def _crops():
    """Distinct 80x60 JPEG crops (the project keys images by their bytes' hash)."""
    for name in ("chelsea.jpg", "coffee.jpg"):
        img = cv2.imread(str(PHOTOS / name))
        h, w = img.shape[:2]
        for y in range(0, h - 120 + 1, 45):
            for x in range(0, w - 160 + 1, 60):
                yield cv2.imencode(".jpg", cv2.resize(img[y : y + 120, x : x + 160], (W, H)))[1]


CROPS = list(_crops())
_next = iter(range(len(CROPS)))


def photo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CROPS[next(_next)].tobytes())


def text(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


def cvat_project(root: Path) -> None:
    for rel in ("images/Train/p0.jpg", "images/Train/p1.jpg", "images/Validation/p2.jpg"):
        photo(root / rel)
    text(
        root / "annotations.xml",
        f"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <project>
      <id>7</id>
      <name>peers</name>
      <labels>
        <label><name>cat</name><type>any</type><attributes/></label>
        <label><name>dog</name><type>any</type><attributes/></label>
        <label><name>tv/monitor</name><type>any</type><attributes/></label>
        <label><name>indoor</name><type>tag</type><attributes/></label>
      </labels>
      <subsets>Train
Validation</subsets>
    </project>
  </meta>
  <image id="0" name="p0.jpg" subset="Train" task_id="11" width="{W}" height="{H}">
    <box label="cat" source="manual" occluded="0" xtl="4.00" ytl="5.00" xbr="40.50" ybr="30.00" z_order="0"/>
    <polygon label="dog" source="manual" occluded="0" points="50.00,10.00;70.00,12.00;60.00,40.00" z_order="0"/>
    <tag label="indoor" source="manual"/>
  </image>
  <image id="1" name="p1.jpg" subset="Train" task_id="11" width="{W}" height="{H}">
    <box label="dog" source="manual" occluded="1" xtl="10.00" ytl="10.00" xbr="30.00" ybr="50.00" z_order="0"/>
  </image>
  <image id="2" name="p2.jpg" subset="Validation" task_id="12" width="{W}" height="{H}">
  </image>
</annotations>
""",
    )


def cvat_video(root: Path) -> None:
    for i in range(5):
        photo(root / f"images/frame_{i:06d}.jpg")
    box = '<box frame="{f}" keyframe="{k}" outside="{o}" occluded="0" xtl="{x}" ytl="10.00" xbr="{x2}" ybr="40.00" z_order="0"/>'
    car = "\n      ".join(
        box.format(f=f, k=k, o=o, x=f"{x:.2f}", x2=f"{x + 20:.2f}")
        for f, k, o, x in ((0, 1, 0, 0.0), (1, 0, 0, 10.0), (3, 1, 0, 30.0), (4, 1, 1, 30.0))
    )
    text(
        root / "annotations.xml",
        f"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>3</id>
      <name>street</name>
      <size>5</size>
      <mode>interpolation</mode>
      <labels>
        <label><name>car</name><type>rectangle</type><attributes/></label>
        <label><name>person</name><type>any</type><attributes/></label>
      </labels>
      <original_size><width>{W}</width><height>{H}</height></original_size>
    </task>
  </meta>
  <track id="0" label="car" source="manual">
      {car}
  </track>
  <track id="1" label="person" source="manual">
      <polygon frame="1" keyframe="1" outside="0" occluded="0" points="5.00,5.00;20.00,5.00;12.00,30.00" z_order="0"/>
      <polygon frame="2" keyframe="1" outside="1" occluded="0" points="5.00,5.00;20.00,5.00;12.00,30.00" z_order="0"/>
  </track>
  <track id="2" label="person" source="manual">
      <points frame="0" keyframe="1" outside="0" occluded="0" points="40.00,40.00" z_order="0"/>
  </track>
</annotations>
""",
    )


def _json(path: Path, doc: object) -> None:
    text(path, json.dumps(doc, indent=1) + "\n")


def coco_keypoints_captions(root: Path) -> None:
    images = [
        {
            "license": 1,
            "file_name": "000000000001.jpg",
            "coco_url": "",
            "height": H,
            "width": W,
            "date_captured": "2013-11-14 17:02:52",
            "flickr_url": "",
            "id": 1,
        },
        {
            "license": 1,
            "file_name": "000000000002.jpg",
            "coco_url": "",
            "height": H,
            "width": W,
            "date_captured": "2013-11-14 17:02:53",
            "flickr_url": "",
            "id": 2,
        },
    ]
    for img in images:
        photo(root / "images/val2017" / img["file_name"])
    person = {
        "supercategory": "person",
        "id": 1,
        "name": "person",
        "keypoints": ["nose", "left_eye", "right_eye"],
        "skeleton": [[1, 2], [1, 3]],
    }
    _json(
        root / "annotations/person_keypoints_val2017.json",
        {
            "info": {"description": "peers sample", "version": "1.0", "year": 2017},
            "licenses": [{"url": "", "id": 1, "name": "CC0"}],
            "images": images,
            "annotations": [
                {
                    "segmentation": [[10, 10, 30, 10, 30, 40, 10, 40]],
                    "num_keypoints": 2,
                    "area": 600.0,
                    "iscrowd": 0,
                    "keypoints": [20, 15, 2, 18, 12, 2, 0, 0, 0],
                    "image_id": 1,
                    "bbox": [10, 10, 20, 30],
                    "category_id": 1,
                    "id": 101,
                },
                {
                    "segmentation": [],
                    "num_keypoints": 1,
                    "area": 200.0,
                    "iscrowd": 0,
                    "keypoints": [50, 20, 1, 0, 0, 0, 0, 0, 0],
                    "image_id": 2,
                    "bbox": [40, 10, 20, 10],
                    "category_id": 1,
                    "id": 102,
                },
                {
                    "segmentation": {"counts": [120, 5, 75, 5, 4595], "size": [H, W]},
                    "num_keypoints": 0,
                    "area": 10.0,
                    "iscrowd": 1,
                    "keypoints": [0] * 9,
                    "image_id": 2,
                    "bbox": [1, 40, 2, 5],
                    "category_id": 1,
                    "id": 103,
                },
            ],
            "categories": [person],
        },
    )
    _json(
        root / "annotations/captions_val2017.json",
        {
            "info": {"description": "peers sample"},
            "licenses": [],
            "images": images,
            "annotations": [
                {"image_id": 1, "id": 201, "caption": "A cat looks at the camera."},
                {"image_id": 1, "id": 202, "caption": "A close view of a cat's face."},
                {"image_id": 2, "id": 203, "caption": "A cup of coffee on a saucer."},
            ],
        },
    )


def coco_panoptic_stuff(root: Path) -> None:
    images = [
        {"file_name": "000000000011.jpg", "height": H, "width": W, "id": 11},
        {"file_name": "000000000012.jpg", "height": H, "width": W, "id": 12},
    ]
    for img in images:
        photo(root / "images/val2017" / img["file_name"])
    _json(
        root / "annotations/panoptic_val2017.json",
        {
            "info": {},
            "licenses": [],
            "images": images,
            "annotations": [
                {
                    "segments_info": [
                        {
                            "id": 3226956,
                            "category_id": 1,
                            "iscrowd": 0,
                            "bbox": [5, 6, 20, 30],
                            "area": 410,
                        },
                        {
                            "id": 6979980,
                            "category_id": 184,
                            "iscrowd": 0,
                            "bbox": [0, 0, 80, 20],
                            "area": 1500,
                        },
                    ],
                    "file_name": "000000000011.png",
                    "image_id": 11,
                },
                {
                    "segments_info": [
                        {
                            "id": 1,
                            "category_id": 184,
                            "iscrowd": 0,
                            "bbox": [0, 0, 80, 15],
                            "area": 1100,
                        },
                        {
                            "id": 2,
                            "category_id": 1,
                            "iscrowd": 1,
                            "bbox": [40, 30, 10, 10],
                            "area": 90,
                        },
                    ],
                    "file_name": "000000000012.png",
                    "image_id": 12,
                },
            ],
            "categories": [
                {"supercategory": "person", "isthing": 1, "id": 1, "name": "person"},
                {"supercategory": "sky", "isthing": 0, "id": 184, "name": "sky-other-merged"},
            ],
        },
    )
    _json(
        root / "annotations/stuff_val2017.json",
        {
            "info": {},
            "licenses": [],
            "images": images,
            "annotations": [
                {
                    "segmentation": {"counts": "0`0d1", "size": [H, W]},
                    "area": 1500.0,
                    "iscrowd": 0,
                    "image_id": 11,
                    "bbox": [0, 0, 80, 20],
                    "category_id": 106,
                    "id": 301,
                },
                {
                    "segmentation": {"counts": "0T0l1", "size": [H, W]},
                    "area": 1100.0,
                    "iscrowd": 0,
                    "image_id": 12,
                    "bbox": [0, 0, 80, 15],
                    "category_id": 106,
                    "id": 302,
                },
            ],
            "categories": [{"supercategory": "sky", "id": 106, "name": "sky-other"}],
        },
    )


def roboflow_coco(root: Path) -> None:
    cats = [
        {"id": 0, "name": "pets", "supercategory": "none"},
        {"id": 1, "name": "cat", "supercategory": "pets"},
        {"id": 2, "name": "dog", "supercategory": "pets"},
    ]
    splits = {
        "train": [
            ("r0_jpg.rf.1a2b.jpg", [(1, [2, 3, 30, 20], [])]),
            ("r1_jpg.rf.3c4d.jpg", [(2, [10, 10, 20, 20], [[10, 10, 30, 10, 30, 30]])]),
        ],
        "valid": [("r2_jpg.rf.5e6f.jpg", [(1, [0, 0, 40, 30], [])])],
        "test": [("r3_jpg.rf.7a8b.jpg", [(2, [20, 20, 10, 10], [])])],
    }
    for split, entries in splits.items():
        images, anns = [], []
        for i, (name, shapes) in enumerate(entries):
            photo(root / split / name)
            images.append(
                {
                    "id": i,
                    "license": 1,
                    "file_name": name,
                    "height": H,
                    "width": W,
                    "date_captured": "2024-01-01T00:00:00+00:00",
                }
            )
            for cid, bbox, seg in shapes:
                anns.append(
                    {
                        "id": len(anns),
                        "image_id": i,
                        "category_id": cid,
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "segmentation": seg,
                        "iscrowd": 0,
                    }
                )
        _json(
            root / split / "_annotations.coco.json",
            {
                "info": {
                    "year": "2024",
                    "version": "1",
                    "description": "Exported from roboflow.com",
                    "contributor": "",
                    "url": "",
                    "date_created": "2024-01-01T00:00:00+00:00",
                },
                "licenses": [
                    {
                        "id": 1,
                        "url": "https://creativecommons.org/licenses/by/4.0/",
                        "name": "CC BY 4.0",
                    }
                ],
                "categories": cats,
                "images": images,
                "annotations": anns,
            },
        )
    text(root / "README.roboflow.txt", "peers sample in Roboflow's COCO layout\n")


def roboflow_yolo(root: Path) -> None:
    labels = {
        "train/y0": "0 0.25 0.25 0.2 0.3\n1 0.5 0.5 0.7 0.5 0.6 0.8\n",
        "train/y1": "1 0.5 0.5 0.5 0.5\n",
        "valid/y2": "0 0.4 0.4 0.2 0.2\n",
        "test/y3": "",
    }
    for stem, body in labels.items():
        split, name = stem.split("/")
        photo(root / split / "images" / f"{name}_jpg.rf.0123.jpg")
        text(root / split / "labels" / f"{name}_jpg.rf.0123.txt", body)
    text(
        root / "data.yaml",
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 2\n"
        "names: ['cat', 'dog']\n\nroboflow:\n  workspace: peers\n  project: sample\n"
        "  version: 1\n  license: CC BY 4.0\n"
        "  url: https://universe.roboflow.com/peers/sample/dataset/1\n",
    )


def darknet_cvat(root: Path) -> None:
    text(
        root / "obj.data",
        "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n",
    )
    text(root / "obj.names", "cat\ndog\n")
    text(root / "train.txt", "".join(f"data/obj_train_data/d{i}.jpg\n" for i in range(3)))
    for i in range(3):
        photo(root / f"obj_train_data/d{i}.jpg")
    text(
        root / "obj_train_data/d0.txt",
        "0 0.250000 0.300000 0.200000 0.200000\n1 0.700000 0.600000 0.300000 0.400000\n",
    )
    text(root / "obj_train_data/d1.txt", "1 0.500000 0.500000 0.500000 0.500000\n")


def labelstudio_yolo(root: Path) -> None:
    names = ["tv/monitor", "what: is?", 'say "hi"']
    text(root / "classes.txt", "\n".join(names) + "\n")
    _json(
        root / "notes.json",
        {
            "categories": [{"id": i, "name": n} for i, n in enumerate(names)],
            "info": {"year": 2024, "version": "1.0", "contributor": "Label Studio"},
        },
    )
    photo(root / "images/5d1a2b3c-ls0.jpg")
    photo(root / "images/9e8f7a6b-ls1.jpg")
    text(root / "labels/5d1a2b3c-ls0.txt", "0 0.5 0.5 0.4 0.4\n1 0.2 0.2 0.1 0.1\n")
    text(root / "labels/9e8f7a6b-ls1.txt", "2 0.6 0.6 0.3 0.3\n")


def xanylabeling_yolo(root: Path) -> None:
    text(root / "classes.txt", "person\ncar\nbicycle\n")
    for i in range(3):
        photo(root / f"x{i}.jpg")
    text(root / "x0.txt", "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.3 0.1 0.2 0.3\n")
    text(root / "x1.txt", "2 0.3 0.3 0.2 0.2\n")


def roboflow_darknet(root: Path) -> None:
    for split, stem, line in (
        ("train", "rd0", "0 0.5 0.5 0.2 0.2\n"),
        ("valid", "rd1", "1 0.4 0.4 0.2 0.2\n"),
    ):
        text(root / split / "_darknet.labels", "cat\ndog\n")
        photo(root / split / f"{stem}_jpg.rf.abcd.jpg")
        text(root / split / f"{stem}_jpg.rf.abcd.txt", line)


def labelme2coco(root: Path) -> None:
    """labelme's ``examples/instance_segmentation/labelme2coco.py`` output: one
    ``annotations.json`` beside ``JPEGImages/``; ids from 0, ``_background_`` as category
    0, and one annotation per (label, group_id) whose ``segmentation`` lists every polygon
    of the instance (a rectangle as its 4 corners), ``bbox`` and ``area`` from its mask.
    5 annotations hold 9 polygons."""
    for name in ("lm0.jpg", "lm1.jpg"):
        photo(root / "JPEGImages" / name)
    ann = []

    def add(image_id, cat, polys, bbox, area):
        ann.append(
            {
                "id": len(ann),
                "image_id": image_id,
                "category_id": cat,
                "segmentation": polys,
                "area": area,
                "bbox": bbox,
                "iscrowd": 0,
            }
        )

    add(0, 1, [[2, 2, 20, 2, 12, 20], [30, 5, 45, 5, 40, 25]], [2, 2, 43, 23], 302.0)
    add(0, 2, [[50, 30, 70, 30, 60, 55]], [50, 30, 20, 25], 250.0)
    add(0, 3, [[5, 35, 25, 35, 25, 55, 5, 55]], [5, 35, 20, 20], 400.0)
    add(
        1,
        1,
        [[2, 2, 10, 2, 6, 10], [20, 2, 28, 2, 24, 10], [40, 2, 48, 2, 44, 10]],
        [2, 2, 46, 8],
        96.0,
    )
    add(1, 2, [[10, 30, 30, 30, 20, 50], [40, 30, 60, 30, 50, 50]], [10, 30, 50, 20], 400.0)
    _json(
        root / "annotations.json",
        {
            "info": {"description": None, "url": None, "version": None, "year": 2026,
                     "contributor": None, "date_created": "2026-11-27 18:00:00.000000"},
            "licenses": [{"url": None, "id": 0, "name": None}],
            "images": [
                {"license": 0, "url": None, "file_name": f"JPEGImages/lm{i}.jpg",
                 "height": H, "width": W, "date_captured": None, "id": i}
                for i in range(2)
            ],
            "type": "instances",
            "annotations": ann,
            "categories": [
                {"supercategory": None, "id": i, "name": n}
                for i, n in enumerate(("_background_", "cat", "dog", "person"))
            ],
        },
    )  # fmt: skip


def labelme_groups(root: Path) -> None:
    """labelme JSON files whose shapes share ``group_id`` (0 is a group too); shapes of
    another label with the same number are another instance."""
    photo(root / "g0.jpg")

    def shape(label, points, group, kind="polygon"):
        return {"label": label, "points": points, "group_id": group, "description": "",
                "shape_type": kind, "flags": {}, "mask": None}  # fmt: skip

    _json(
        root / "g0.json",
        {
            "version": "5.5.0",
            "flags": {},
            "shapes": [
                shape("cat", [[2, 2], [20, 2], [12, 20]], 0),
                shape("cat", [[30, 5], [45, 5], [40, 25]], 0),
                shape("cat", [[50, 5], [60, 5], [55, 15]], None),
                shape("dog", [[5, 30], [25, 50]], 1, "rectangle"),
                shape("dog", [[30, 30], [50, 30], [40, 55]], 1),
                shape("cat", [[60, 30], [75, 30], [70, 50]], 1),
            ],
            "imagePath": "g0.jpg",
            "imageData": None,
            "imageHeight": H,
            "imageWidth": W,
        },
    )


def cvat_groups(root: Path) -> None:
    """CVAT for images 1.1, a task export whose shapes are grouped (``group_id``)."""
    photo(root / "images/c0.jpg")
    text(
        root / "annotations.xml",
        """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>5</id>
      <name>groups</name>
      <labels>
        <label><name>cat</name><type>any</type><attributes/></label>
        <label><name>dog</name><type>any</type><attributes/></label>
      </labels>
    </task>
  </meta>
  <image id="0" name="c0.jpg" width="80" height="60">
    <polygon label="cat" source="manual" occluded="0" points="2.00,2.00;20.00,2.00;12.00,20.00" z_order="0" group_id="1"/>
    <polygon label="cat" source="manual" occluded="0" points="30.00,5.00;45.00,5.00;40.00,25.00" z_order="0" group_id="1"/>
    <box label="cat" source="manual" occluded="0" xtl="50.00" ytl="5.00" xbr="60.00" ybr="15.00" z_order="0" group_id="1"/>
    <box label="dog" source="manual" occluded="0" xtl="5.00" ytl="30.00" xbr="25.00" ybr="50.00" z_order="0"/>
    <polygon label="dog" source="manual" occluded="0" points="30.00,30.00;50.00,30.00;40.00,55.00" z_order="0" group_id="0"/>
  </image>
</annotations>
""",
    )


SAMPLES = {
    "cvat-project": cvat_project,
    "cvat-video": cvat_video,
    "coco-keypoints-captions": coco_keypoints_captions,
    "coco-panoptic-stuff": coco_panoptic_stuff,
    "roboflow-coco": roboflow_coco,
    "roboflow-yolo": roboflow_yolo,
    "darknet-cvat-yolo11": darknet_cvat,
    "labelstudio-yolo": labelstudio_yolo,
    "xanylabeling-yolo": xanylabeling_yolo,
    "roboflow-darknet": roboflow_darknet,
    "labelme2coco": labelme2coco,
    "labelme-groups": labelme_groups,
    "cvat-groups": cvat_groups,
}

if __name__ == "__main__":
    for name, make in SAMPLES.items():
        shutil.rmtree(HERE / name, ignore_errors=True)
        make(HERE / name)
        print(name)
