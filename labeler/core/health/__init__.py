"""Dataset health: balance, duplicates and leakage, files, annotation geometry and
suspicious labels, as findings with a suggested action, plus an HTML and a JSON report.

>>> from labeler.core.health import HealthData, HealthImage, run_health
>>> report = run_health(HealthData([HealthImage(1, "x.jpg", exists=False)]))
>>> [f.check for f in report.findings]
['files.missing', 'balance.unlabeled', 'duplicates.no_phash']
"""

from labeler.core.health import builtin as _builtin  # noqa: F401  (registers our own checks)
from labeler.core.health.annotations import polygon_self_intersects
from labeler.core.health.checks import (
    HEALTH_CHECKS,
    HealthCheck,
    register_health_check,
    registered_health_checks,
    unregister_health_check,
)
from labeler.core.health.duplicates import duplicate_groups
from labeler.core.health.files import find_moved
from labeler.core.health.model import (
    ACTIONS,
    JSON_SCHEMA,
    SEVERITIES,
    CheckInput,
    Finding,
    HealthData,
    HealthImage,
    HealthOptions,
    HealthReport,
)
from labeler.core.health.run import LoadImage, looks_grey, run_health

__all__ = [
    "ACTIONS",
    "HEALTH_CHECKS",
    "JSON_SCHEMA",
    "SEVERITIES",
    "CheckInput",
    "Finding",
    "HealthCheck",
    "HealthData",
    "HealthImage",
    "HealthOptions",
    "HealthReport",
    "LoadImage",
    "duplicate_groups",
    "find_moved",
    "looks_grey",
    "polygon_self_intersects",
    "register_health_check",
    "registered_health_checks",
    "run_health",
    "unregister_health_check",
]
