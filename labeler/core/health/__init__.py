"""Dataset health: balance, duplicates and leakage, files, annotation geometry and
suspicious labels, as findings with a suggested action, plus an HTML and a JSON report.

>>> from labeler.core.health import HealthData, HealthImage, run_health
>>> report = run_health(HealthData([HealthImage(1, "x.jpg", exists=False)]))
>>> [f.check for f in report.findings]
['files.missing', 'balance.unlabeled', 'duplicates.no_phash']
"""

from labeler.core.health.annotations import polygon_self_intersects
from labeler.core.health.duplicates import duplicate_groups
from labeler.core.health.files import find_moved
from labeler.core.health.model import (
    ACTIONS,
    JSON_SCHEMA,
    SEVERITIES,
    Finding,
    HealthData,
    HealthImage,
    HealthOptions,
    HealthReport,
)
from labeler.core.health.run import LoadImage, looks_grey, run_health

__all__ = [
    "ACTIONS",
    "JSON_SCHEMA",
    "SEVERITIES",
    "Finding",
    "HealthData",
    "HealthImage",
    "HealthOptions",
    "HealthReport",
    "LoadImage",
    "duplicate_groups",
    "find_moved",
    "looks_grey",
    "polygon_self_intersects",
    "run_health",
]
