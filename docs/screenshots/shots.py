"""What the screenshot scripts share: where things are, and waiting on the event loop."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def settle(app, seconds: float = 0.5) -> None:
    """Let the window paint and its workers report for a moment."""
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for(app, done: Callable[[], bool], timeout: float = 300) -> None:
    """Run the event loop until `done()` (a job finished), or fail after `timeout` s."""
    end = time.time() + timeout
    while not done():
        if time.time() > end:
            raise TimeoutError("the window did not finish in time")
        app.processEvents()
        time.sleep(0.02)


# Nine of the Pompeii coins, as (centre x, centre y, radius) in coins.png pixels.
COINS = (
    (48, 46, 23), (104, 45, 20), (155, 43, 21), (210, 46, 21), (274, 46, 22),
    (338, 43, 27), (46, 123, 21), (103, 123, 19), (154, 123, 20),
)  # fmt: skip


def build_demo(folder: Path, *, coins: int = len(COINS), splits: bool = True) -> Path:
    """The demo project the screenshots show: the CIFAR slice with tags, the demo photos with
    boxes (astronaut, coffee) and polygons (the first `coins` coins)."""
    from labeler.app.imports import import_folders
    from labeler.core.shapes import Shape
    from labeler.store.project import Project

    path = folder / "demo.labeler"
    with Project.create(path) as p:
        import_folders(p, [REPO / "resources" / "cifar10-lt-mini"], labels_from_folders=True)
        import_folders(p, [REPO / "resources" / "demo-photos"])
        person = p.add_class("person", colour="#00c2ff")
        cup = p.add_class("cup", colour="#ffd400")
        coin = p.add_class("coin", colour="#ff4d6d")
        helmet = p.add_class("helmet", colour="#7cfc00")
        if splits:
            p.set_splits({i.id: ("train" if i.id % 5 else "val") for i in p.images()})
        astro = p.find_image("astronaut.jpg")
        p.add_shape(astro.id, Shape.box(person.id, 130, 20, 430, 510))
        p.add_shape(astro.id, Shape.box(helmet.id, 274, 330, 511, 511))
        p.add_shape(p.find_image("coffee.jpg").id, Shape.box(cup.id, 60, 20, 480, 330))
        coins_id = p.find_image("coins.png").id
        for cx, cy, r in COINS[:coins]:
            pts = [
                (cx + r * math.cos(2 * math.pi * k / 10), cy + r * math.sin(2 * math.pi * k / 10))
                for k in range(10)
            ]
            p.add_shape(coins_id, Shape.polygon(coin.id, pts))
    return path
