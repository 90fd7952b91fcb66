"""Labeler's own health checks, registered the way a plugin registers one.

Each is a `HealthCheck` over a `CheckInput` that puts the statistics behind its charts into
``data.stats`` under its own name. They register here, on import of ``labeler.core.health``,
in the order they run (and their findings are listed within a severity); the built-in plugin
then claims them for ``labeler plugins list`` (ADR 0060, ADR 0090).
"""

from __future__ import annotations

from typing import Any

from labeler.core.health.annotations import check_annotations
from labeler.core.health.balance import balance_stats, check_balance
from labeler.core.health.checks import register_health_check
from labeler.core.health.classifier import check_suspicious
from labeler.core.health.duplicates import check_duplicates
from labeler.core.health.files import check_files, check_missing
from labeler.core.health.model import CheckInput, Finding


def missing(data: CheckInput) -> list[Finding]:
    """Missing files, and where the moved ones are now (by SHA-256)."""
    return check_missing(data.images, list(data.search_roots), data.options)


def balance(data: CheckInput) -> list[Finding]:
    """Unlabeled images, thin and missing classes, imbalance and split coverage."""
    stats = balance_stats(data.images, data.shapes, data.classes, data.labels)
    data.stats["balance"] = stats
    return check_balance(data.images, data.classes, data.labels, stats, data.options)


def duplicates(data: CheckInput) -> list[Finding]:
    """Exact and near duplicates, across classes and across splits (leakage)."""
    found = check_duplicates(data.images, data.classes, data.labels, data.options)
    return _with_stats(data, "duplicates", found)


def files(data: CheckInput) -> list[Finding]:
    """Unreadable files, extreme sizes and aspect ratios, grey among colour."""
    return _with_stats(data, "files", check_files(data.images, data.options))


def annotations(data: CheckInput) -> list[Finding]:
    """Degenerate, outside and stacked shapes."""
    found = check_annotations(data.images, data.shapes, data.classes, data.options)
    return _with_stats(data, "annotations", found)


def classifier(data: CheckInput) -> list[Finding]:
    """Suspicious labels by confident learning; runs only when the images were decoded."""
    if not data.features:
        return []
    found = check_suspicious(data.features, data.labels, data.classes, data.options)
    return _with_stats(data, "classifier", found)


def _with_stats(data: CheckInput, key: str, found: tuple[list[Finding], Any]) -> list[Finding]:
    findings, data.stats[key] = found
    return findings


for _check in (missing, balance, duplicates, files, annotations, classifier):
    register_health_check(_check.__name__, _check)
