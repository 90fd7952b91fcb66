"""Where the tests' real data lives. Import from here, not from conftest (several conftest
modules exist, and which one `import conftest` finds depends on what ran first)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "resources"
DEMO_PHOTOS = RESOURCES / "demo-photos"
CIFAR_MINI = RESOURCES / "cifar10-lt-mini"
TEST_DATA = REPO / "tests" / "data"


def perfect_detections(gt, anns, iou: str) -> list[dict]:
    """pycocotools results that repeat ground truth ``anns`` exactly (score 1): evaluating
    them against ``gt`` must give AP 1.0. Segmentation results go in as RLE, as
    pycocotools takes them."""
    from pycocotools import mask as mask_utils

    dets = []
    for a in anns:
        d = {"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0}
        if iou == "bbox":
            d["bbox"] = a["bbox"]
        else:
            img = gt.imgs[a["image_id"]]
            rles = mask_utils.frPyObjects(a["segmentation"], img["height"], img["width"])
            d["segmentation"] = mask_utils.merge(rles)
        dets.append(d)
    return dets
