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


NOBODY = 65534  # the unprivileged user and group: root reads and writes anything


def fork_cli_unprivileged(argv, out_path: Path, err_path: Path) -> int:
    """Fork a child that runs ``labeler ARGV`` (in-process ``main``) as `NOBODY` when we are
    root, its stdout and stderr in the two files; returns the child's pid for the caller to
    wait on. The modules the command needs must be imported before (the child may not be
    able to read the interpreter's library)."""
    import os
    import sys

    from labeler.cli import main

    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 70
        try:
            with open(out_path, "w") as out, open(err_path, "w") as err:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout, sys.stderr = os.fdopen(1, "w"), os.fdopen(2, "w")
                if os.geteuid() == 0:
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                code = main(list(argv))
                sys.stdout.flush()
                sys.stderr.flush()
        finally:
            os._exit(code)
    return pid
