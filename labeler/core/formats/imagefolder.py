"""ImageFolder (torchvision) for image classification.

Layout written: ``<split>/<class name>/<file_name>``. Only image-level tags count: an
image with exactly one tag class is written under that class; an image with no tag, or
with tags of two or more classes, is skipped and listed in the report's ``skipped`` (a
folder layout holds one class per image, and copying the image into several class
folders would teach a classifier contradictory labels). Class folders are made only for
classes with images, because torchvision refuses empty class folders; torchvision then
numbers the classes by sorted folder name, which ``manifest.json`` lets you check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    FormatProblem,
    display,
    image_size,
    inside,
    walk_files,
)
from labeler.core.formats.base import Placed
from labeler.core.formats.model import SPLITS, ExportItem, ImportedShape, ImportRecord, ImportResult
from labeler.core.images import is_image_path
from labeler.core.shapes import Shape


class ImageFolderExporter:
    name = "imagefolder"
    importer = "imagefolder"
    tolerance_px = 0.0

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        for name in names.values():
            if name in (".", "..") or any(c in name for c in '/\\:*?"<>|\0'):
                raise LabelerError(f"class name {name!r} cannot be a folder name")
        out: list[Placed | str] = []
        for it in items:
            tags = sorted(
                {s.class_id for s in it.shapes if s.kind == "tag"}, key=lambda c: names[c]
            )
            if not tags:
                out.append("has no image-level class")
            elif len(tags) > 1:
                listed = ", ".join(names[c] for c in tags)
                out.append(f"has {len(tags)} image-level classes ({listed}); ImageFolder holds one")
            else:
                path = f"{it.split}/{names[tags[0]]}/{it.file_name}"
                out.append(Placed(it, path, (Shape.tag(tags[0]),)))
        return out

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        return []  # the folders are the annotation


class ImageFolderImporter:
    """Reads ``<split>/<class>/...`` when the root has train/val/test folders, otherwise
    ``<class>/...``; images below a class folder (at any depth) get that class as a tag."""

    name = "imagefolder"

    def detect(self, root: Path) -> bool:
        return any(p.is_dir() for p in root.iterdir()) if root.is_dir() else False

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        split_dirs = [(s, root / s) for s in SPLITS if (root / s).is_dir()]
        for split, base in split_dirs or [(None, root)]:
            for class_dir in sorted(p for p in base.iterdir() if p.is_dir()):
                if class_dir.name.startswith("."):
                    continue
                try:  # a class folder may be a link, but not to a folder outside the dataset
                    inside(root, class_dir)
                except FormatProblem:
                    result.problems.append(
                        f"{display(root, class_dir)}: refused: a symbolic link to a folder"
                        " outside the dataset"
                    )
                    continue
                result.add_class(class_dir.name)
                for image in walk_files(root, class_dir, result.problems):
                    if is_image_path(image) and image.is_file():
                        _add(root, image, class_dir.name, split, result)
        return result


def _add(root: Path, image: Path, name: str, split: str | None, result: ImportResult) -> None:
    try:
        rel = inside(root, image)
        w, h = image_size(image, rel)  # the header alone, refused over MAX_PIXELS
    except (FormatProblem, LabelerError) as e:
        result.problems.append(str(e))
        return
    result.records.append(ImportRecord(rel, w, h, (ImportedShape(name, "tag"),), split))
