"""Augmentation: recipes of ops, applied to images together with their boxes and polygons.

numpy and OpenCV only. Importing this package registers the built-in ops; plugins add theirs
with ``register_op`` (the table is `OPS`).

>>> recipe = load_recipe("light.json")                               # doctest: +SKIP
>>> image2, shapes2 = augment_copy(image, shapes, recipe, image_key=sha, copy_index=0)  # doctest: +SKIP
"""

from labeler.core.augment import colour as _colour  # noqa: F401  (registers pixel ops)
from labeler.core.augment.batch import (
    AugmentJob,
    AugmentResult,
    augment_files,
    encode_image,
    read_image,
    run_job,
    write_image,
)
from labeler.core.augment.engine import PlannedOp, augment, augment_copy, plan, rng_for, run_plan
from labeler.core.augment.geometry import WarpSettings
from labeler.core.augment.preview import class_colour, preview_grid
from labeler.core.augment.recipe import (
    SCHEMA_VERSION,
    OneOf,
    OpStep,
    Recipe,
    SomeOf,
    Step,
    load_recipe,
    save_recipe,
    step,
)
from labeler.core.augment.registry import (
    MAX_OUTPUT_PIXELS,
    OPS,
    Choice,
    Flag,
    Number,
    Op,
    Param,
    Range,
    get_op,
    make_op,
    register_op,
    registered_ops,
    unregister_op,
)

__all__ = [
    "MAX_OUTPUT_PIXELS",
    "OPS",
    "SCHEMA_VERSION",
    "AugmentJob",
    "AugmentResult",
    "Choice",
    "Flag",
    "Number",
    "OneOf",
    "Op",
    "OpStep",
    "Param",
    "PlannedOp",
    "Range",
    "Recipe",
    "SomeOf",
    "Step",
    "WarpSettings",
    "augment",
    "augment_copy",
    "augment_files",
    "class_colour",
    "encode_image",
    "get_op",
    "load_recipe",
    "make_op",
    "plan",
    "preview_grid",
    "read_image",
    "register_op",
    "registered_ops",
    "rng_for",
    "run_job",
    "run_plan",
    "save_recipe",
    "step",
    "unregister_op",
    "write_image",
]
