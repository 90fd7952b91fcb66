"""Class balance: images and shapes per class, overall and per split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

from labeler.core.health.model import Finding, HealthImage, HealthOptions, plural, ratio_text
from labeler.core.shapes import Shape

UNASSIGNED = "unassigned"


def image_classes(
    images: Sequence[HealthImage], shapes: Mapping[int, Sequence[Shape]]
) -> dict[int, frozenset[int]]:
    """The set of classes on each image (tags and regions alike); empty when unlabeled."""
    return {im.id: frozenset(s.class_id for s in shapes.get(im.id, ())) for im in images}


def balance_stats(
    images: Sequence[HealthImage],
    shapes: Mapping[int, Sequence[Shape]],
    classes: Mapping[int, str],
    labels: Mapping[int, frozenset[int]],
) -> dict[str, Any]:
    """Counts per class and split, as JSON-ready dicts keyed by class id (as a string)."""
    splits = sorted({im.split or UNASSIGNED for im in images}, key=_split_order)
    per_split: dict[str, Counter[int]] = {s: Counter() for s in splits}
    images_per_class: Counter[int] = Counter()
    for im in images:
        for c in labels[im.id]:
            images_per_class[c] += 1
            per_split[im.split or UNASSIGNED][c] += 1
    shapes_per_class: Counter[int] = Counter(
        s.class_id for im in images for s in shapes.get(im.id, ())
    )
    all_classes = sorted(set(classes) | set(images_per_class))
    nonempty = [images_per_class[c] for c in all_classes if images_per_class[c] > 0]
    return {
        "splits": splits,
        "images_per_split": {
            s: sum(1 for im in images if (im.split or UNASSIGNED) == s) for s in splits
        },
        "images_per_class": {str(c): images_per_class[c] for c in all_classes},
        "shapes_per_class": {str(c): shapes_per_class[c] for c in all_classes},
        "images_per_class_per_split": {
            s: {str(c): per_split[s][c] for c in all_classes} for s in splits
        },
        "imbalance_ratio": (max(nonempty) / min(nonempty)) if nonempty else None,
        "unlabeled_images": sum(1 for im in images if not labels[im.id]),
    }


def check_balance(
    images: Sequence[HealthImage],
    classes: Mapping[int, str],
    labels: Mapping[int, frozenset[int]],
    stats: dict[str, Any],
    opts: HealthOptions,
) -> list[Finding]:
    """Imbalance, thin and empty classes, classes absent from a split, unlabeled images,
    images without a split, and generated images outside train."""
    findings: list[Finding] = []
    counts = {int(c): n for c, n in stats["images_per_class"].items()}
    name = lambda c: classes.get(c, f"#{c}")  # noqa: E731
    nonempty = {c: n for c, n in counts.items() if n > 0}
    ratio = stats["imbalance_ratio"]
    if ratio is not None and len(nonempty) > 1 and ratio >= 3.0:
        big, small = max(nonempty, key=nonempty.get), min(nonempty, key=nonempty.get)
        findings.append(
            Finding(
                "balance.imbalance",
                "warning" if ratio >= opts.imbalance_warning_ratio else "info",
                f"Classes are imbalanced ({ratio_text(ratio)})",
                f"'{name(big)}' has {nonempty[big]} images, '{name(small)}' {nonempty[small]}.",
                "Add real images to the small classes, or ask for GAN suggestions.",
                "suggest_gan",
                details={"ratio": round(ratio, 3), "largest": big, "smallest": small},
            )
        )
    if nonempty:
        limit = max(
            opts.min_class_images, opts.min_class_fraction_of_median * median(nonempty.values())
        )
        thin = sorted(c for c, n in nonempty.items() if n < limit)
        if thin:
            listing = ", ".join(f"'{name(c)}' ({counts[c]})" for c in thin)
            findings.append(
                Finding(
                    "balance.small_classes",
                    "warning",
                    f"{plural(len(thin), 'class is', 'classes are')} too small to learn from",
                    f"Below {limit:.0f} images (the larger of {opts.min_class_images} and "
                    f"{opts.min_class_fraction_of_median:.0%} of the median class): {listing}.",
                    "Label more images of these classes, or ask for GAN suggestions.",
                    "suggest_gan",
                    details={"classes": thin, "threshold": limit},
                )
            )
    empty = sorted(c for c in classes if counts.get(c, 0) == 0)
    if empty:
        findings.append(
            Finding(
                "balance.empty_classes",
                "warning",
                f"{plural(len(empty), 'class has', 'classes have')} no images",
                "Empty: " + ", ".join(f"'{name(c)}'" for c in empty) + ".",
                "Label images with these classes or remove the classes.",
                None,
                details={"classes": empty},
            )
        )
    findings += _split_findings(images, labels, stats, name)
    unlabeled = [im.id for im in images if not labels[im.id]]
    if unlabeled:
        findings.append(
            Finding(
                "balance.unlabeled",
                "warning",
                f"{plural(len(unlabeled), 'image has', 'images have')} no label",
                f"{len(unlabeled)} of {plural(len(images), 'image', 'images')} "
                f"{'carries' if len(unlabeled) == 1 else 'carry'} no tag, box or polygon.",
                "Open them and label them, or remove them from the project.",
                "open_images",
                image_ids=unlabeled,
            )
        )
    return findings


def _split_findings(images, labels, stats, name) -> list[Finding]:
    findings: list[Finding] = []
    splits = [s for s in stats["splits"] if s != UNASSIGNED]
    if splits:
        gaps = {
            s: sorted(
                int(c)
                for c, n in stats["images_per_class_per_split"][s].items()
                if n == 0 and stats["images_per_class"][c] > 0
            )
            for s in splits
        }
        gaps = {s: cs for s, cs in gaps.items() if cs}
        if gaps:
            text = "; ".join(
                f"{s}: " + ", ".join(f"'{name(c)}'" for c in cs) for s, cs in gaps.items()
            )
            findings.append(
                Finding(
                    "balance.missing_from_split",
                    "warning",
                    "Some classes are missing from a split",
                    f"Classes with images but none in a split: {text}.",
                    "Re-split the dataset (stratified by class).",
                    "resplit",
                    details={"missing": gaps},
                )
            )
        unassigned = [im.id for im in images if im.split is None]
        if unassigned:
            findings.append(
                Finding(
                    "balance.unassigned",
                    "info",
                    f"{plural(len(unassigned), 'image is', 'images are')} in no split",
                    "Other images have a split; these do not and would be left out of exports.",
                    "Re-split the dataset to place them.",
                    "resplit",
                    image_ids=unassigned,
                )
            )
    stray = [im.id for im in images if im.generated and im.split not in (None, "train")]
    if stray:
        findings.append(
            Finding(
                "balance.generated_outside_train",
                "error",
                f"{plural(len(stray), 'generated image is', 'generated images are')} outside"
                " the train split",
                "Generated images must only ever train a model; in val or test they inflate scores.",
                "Re-split so that generated images go to train only.",
                "resplit",
                image_ids=stray,
            )
        )
    return findings


def _split_order(s: str) -> tuple[int, str]:
    return ({"train": 0, "val": 1, "test": 2, UNASSIGNED: 9}.get(s, 5), s)
