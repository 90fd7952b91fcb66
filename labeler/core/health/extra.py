"""Extra health checks: a small registry that plugins extend, run after the built-in checks.

A check is a plain callable ``(HealthData) -> list[Finding]`` registered under a name. It sees
the images as the built-in checks left them (``exists`` stat'ed, and sizes and grey/colour
filled in when the images were decoded). A check that raises, or returns something other than
findings, does not end the report: it becomes a finding of its own (``plugins.check_failed``)
that names the check and the error, and the other checks' findings are kept.

>>> from labeler.core.health import Finding, HealthData, HealthImage
>>> def no_tiny_projects(data):
...     if len(data.images) >= 10:
...         return []
...     return [Finding("example.tiny", "info", "Tiny project", "Fewer than 10 images.", "")]
>>> register_health_check("example.tiny", no_tiny_projects)
>>> [f.check for f in run_extra_checks(HealthData([HealthImage(1, "a.jpg")]))]
['example.tiny']
>>> unregister_health_check("example.tiny")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from labeler.core.health.model import Finding, HealthData

HealthCheck = Callable[[HealthData], list[Finding]]
"""check(data) -> findings; an empty list when all is well."""

FAILED_CHECK = "plugins.check_failed"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_CHECKS: dict[str, HealthCheck] = {}


def register_health_check(name: str, check: HealthCheck) -> HealthCheck:
    """Add ``check`` under ``name`` (lower case, digits, ``._-``); the name must be new."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"health check name {name!r} must be lower case letters, digits, ._-")
    if not callable(check):
        raise TypeError(f"health check {name!r} is not callable")
    if name in _CHECKS and _CHECKS[name] is not check:
        raise ValueError(f"a health check named {name!r} is already registered")
    _CHECKS[name] = check
    return check


def unregister_health_check(name: str) -> None:
    """Remove a check (for plugin unloading and tests); an unknown name is ignored."""
    _CHECKS.pop(name, None)


def registered_health_checks() -> Mapping[str, HealthCheck]:
    """The registered extra checks by name (a read-only view), in registration order."""
    return MappingProxyType(_CHECKS)


def run_extra_checks(data: HealthData) -> list[Finding]:
    """Run every registered check; a failing check is reported, never raised."""
    findings: list[Finding] = []
    for name, check in list(_CHECKS.items()):
        try:
            found = check(data)
            if not isinstance(found, list | tuple) or not all(
                isinstance(f, Finding) for f in found
            ):
                raise TypeError(f"returned {type(found).__name__}, not a list of Finding")
        except Exception as exc:  # a plugin's bug must not cost the user the whole report
            findings.append(_failed(name, exc))
            continue
        findings.extend(found)
    return findings


def _failed(name: str, exc: Exception) -> Finding:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Finding(
        check=FAILED_CHECK,
        severity="warning",
        title=f"The health check {name!r} failed",
        message=f"{reason}. Its findings are missing from this report; the others are complete.",
        suggestion="Update or disable the plugin that provides it (Settings > Plugins).",
        details={"check": name, "error": reason},
    )
