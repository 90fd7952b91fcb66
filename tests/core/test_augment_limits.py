"""Limits on what a recipe or a flag can make us allocate or write (issue 12, item 13): output
pixels per augmented image, copies per image, and the export's size against the free space."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from labeler.app.exports import MAX_MULTIPLIER
from labeler.cli import main
from labeler.core.augment import (
    MAX_OUTPUT_PIXELS,
    Op,
    Recipe,
    augment_copy,
    register_op,
    unregister_op,
)
from labeler.core.augment.geometry import GeometricOp, scaling
from labeler.core.errors import LabelerError


def recipe(*steps) -> dict:
    return {"schema_version": 1, "steps": list(steps)}


def sized(op: str, w: int, h: int, p: float = 1.0) -> dict:
    return {"op": op, "p": p, "params": {"width": w, "height": h}}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv) -> str:
    code, _, err = run(capsys, *argv)
    lines = err.splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("labeler: error: "), err
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- output pixels ----------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["resize", "crop", "letterbox", "random_resized_crop"])
def test_a_huge_output_size_is_refused_when_the_recipe_is_read(op):
    with pytest.raises(LabelerError) as e:
        Recipe.from_dict(recipe(sized(op, 65535, 65535)))
    msg = str(e.value)
    assert (
        "\n" not in msg and op in msg and "65535x65535" in msg and f"{MAX_OUTPUT_PIXELS:,}" in msg
    )


def test_the_limit_is_64_megapixels_exactly():
    assert MAX_OUTPUT_PIXELS == 64_000_000
    Recipe.from_dict(recipe(sized("resize", 8000, 8000)))  # exactly at the limit: fine
    Recipe.from_dict(recipe(sized("resize", 65535, 900)))  # a long strip under it: fine
    with pytest.raises(LabelerError, match="8001x8000"):
        Recipe.from_dict(recipe(sized("resize", 8001, 8000)))
    with pytest.raises(LabelerError, match=r"steps\[0\]\.one_of\[1\] \(crop\)"):
        Recipe.from_dict(recipe({"one_of": [{"op": "grayscale"}, sized("crop", 9000, 9000)]}))


def test_a_plugin_op_that_grows_the_image_is_stopped_before_it_allocates():
    @register_op
    class Blow(GeometricOp):
        name = "test_blow_up"

        def matrix(self, drawn, width, height):
            return scaling(1000, 1000), width * 1000, height * 1000

    try:
        r = Recipe.from_dict(recipe({"op": "test_blow_up"}))
        with pytest.raises(LabelerError, match="'test_blow_up' would make a 64000x48000 image"):
            augment_copy(np.zeros((48, 64, 3), np.uint8), [], r, image_key="k", copy_index=0)
    finally:
        unregister_op("test_blow_up")


def test_ops_that_keep_the_size_work_on_images_above_the_limit():
    # A source larger than the limit (imports allow 200 MP) may still be flipped: only
    # growing beyond both the limit and the source is refused. Checked on the plan alone.
    from labeler.core.augment import plan, rng_for

    r = Recipe.from_dict(recipe({"op": "horizontal_flip"}, {"op": "rotate"}))
    planned = plan(r, rng_for(0, "k", 0), 10_000, 9_000)
    assert [(p.width, p.height) for p in planned] == [(10_000, 9_000), (10_000, 9_000)]


def test_the_largest_output_a_recipe_can_make():
    px = 1000 * 800
    assert Recipe.from_dict(recipe({"op": "rotate"})).max_output_pixels(px) == px
    assert Recipe.from_dict(recipe(sized("resize", 64, 32))).max_output_pixels(px) == 64 * 32
    maybe = Recipe.from_dict(recipe(sized("resize", 2000, 2000, p=0.5)))
    assert maybe.max_output_pixels(px) == 2000 * 2000
    group = Recipe.from_dict(
        recipe({"some_of": [sized("crop", 100, 100), sized("letterbox", 3000, 1000)], "n": [0, 2]})
    )
    assert group.max_output_pixels(px) == 3000 * 1000
    last = Recipe.from_dict(recipe(sized("resize", 3000, 3000), sized("resize", 10, 10)))
    assert last.max_output_pixels(px) == 100

    class Plain(Op):
        name = "plain"

    assert Plain().output_pixels(px) == px


# -- through the command line ------------------------------------------------------------------
@pytest.fixture
def proj(tmp_path, capsys, cifar_subset) -> Path:
    path = tmp_path / "p.labeler"
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "import", path, cifar_subset, "--labels-from-folders")[0] == 0
    return path


def test_recipe_add_refuses_a_65535_square_resize(capsys, proj, tmp_path):
    f = tmp_path / "huge.json"
    f.write_text(json.dumps(recipe(sized("resize", 65535, 65535))))
    before = digest(proj)
    line = refused(capsys, "recipe", proj, "add", f)
    assert "resize" in line and "limit" in line
    assert digest(proj) == before
    code, out, _ = run(capsys, "recipe", proj, "list", "--json")
    assert code == 0 and json.loads(out)["recipes"] == []


def test_export_refuses_a_stored_recipe_beyond_the_limit_before_any_work(capsys, proj, tmp_path):
    from labeler.store.project import Project
    from labeler.store.recipes import save_recipe

    with Project.open(proj) as p:  # as an older Labeler stored it, unchecked
        save_recipe(p, "huge", recipe(sized("resize", 65535, 65535)))
    before = digest(proj)
    out = tmp_path / "exports" / "v1"
    line = refused(capsys, "export", proj, "--format", "coco", "--out", out, "--recipe", "huge")
    assert "recipe 'huge'" in line and "65535x65535" in line
    assert not (tmp_path / "exports").exists()
    assert digest(proj) == before


def test_a_million_copies_are_refused_before_any_work(capsys, proj, tmp_path):
    f = tmp_path / "light.json"
    f.write_text(json.dumps(recipe({"op": "horizontal_flip"})))
    assert run(capsys, "recipe", proj, "add", f)[0] == 0
    before = digest(proj)
    out = tmp_path / "exports" / "v1"
    args = ("export", proj, "--format", "coco", "--out", out, "--recipe", "light")
    line = refused(capsys, *args, "--multiplier", "1000000")
    assert f"limit of {MAX_MULTIPLIER}" in line
    assert not (tmp_path / "exports").exists() and digest(proj) == before
    refused(capsys, *args, "--multiplier", str(MAX_MULTIPLIER + 1))
    code, stdout, err = run(capsys, *args, "--multiplier", "2", "--json")
    assert code == 0, err
    assert json.loads(stdout)["augmented"] > 0


def test_the_size_estimate_counts_copies_at_their_output_size(proj, tmp_path):
    from labeler.app.exports import JPEG_BYTES_PER_PIXEL, estimate_export_bytes
    from labeler.core.formats import ExportItem

    src = next((tmp_path / "cifar").rglob("*.jpg"))
    item = ExportItem(
        image_id=1, source_path=src, file_name="a.jpg", width=32, height=32, split="train"
    )
    sizes = {1: 1024}  # 1 byte per pixel
    plain = estimate_export_bytes(tmp_path, [item], sizes, None, 0, False)
    assert plain == 4096  # a hard link: no image bytes
    assert estimate_export_bytes(tmp_path, [item], sizes, None, 0, True) == 4096 + 1024
    big = Recipe.from_dict(recipe(sized("resize", 4000, 4000)))
    per_copy = 4000 * 4000 * 1 + 4096
    assert estimate_export_bytes(tmp_path, [item], sizes, big, 10, False) == plain + 10 * per_copy
    dense = {1: 10}  # a tiny JPEG is still estimated at JPEG_BYTES_PER_PIXEL when re-encoded
    small = Recipe.from_dict(recipe({"op": "horizontal_flip"}))
    expected = plain + 3 * (int(np.ceil(1024 * JPEG_BYTES_PER_PIXEL)) + 4096)
    assert estimate_export_bytes(tmp_path, [item], dense, small, 3, False) == expected
