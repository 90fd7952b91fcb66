"""Health checks in one registry: Labeler's own and plugins', registered and run alike.

A check is a plain callable ``(CheckInput) -> list[Finding]`` registered under a name; a
plugin may read its argument as a plain `HealthData`. Labeler's checks register when
``labeler.core.health`` is imported (``builtin.py``), in the order they run; a plugin's come
after them. A check that raises, or returns something other than findings, does not end the
report: it becomes a finding of its own (``plugins.check_failed``) that names the check and the
error, and the other checks' findings are kept.

>>> from labeler.core.health import CheckInput, Finding, HealthImage
>>> def no_tiny_projects(data):
...     if len(data.images) >= 10:
...         return []
...     return [Finding("example.tiny", "info", "Tiny project", "Fewer than 10 images.", "")]
>>> register_health_check("example.tiny", no_tiny_projects)     # doctest: +ELLIPSIS
<function no_tiny_projects at ...>
>>> [f.check for f in run_check("example.tiny", no_tiny_projects, CheckInput([HealthImage(1, "a.jpg")]))]
['example.tiny']
>>> unregister_health_check("example.tiny")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from labeler.core.health.model import CheckInput, Finding, HealthData
from labeler.core.registry import Registry

HealthCheck = Callable[[HealthData], list[Finding]]
"""check(data) -> findings; an empty list when all is well. ``data`` is a `CheckInput`."""

FAILED_CHECK = "plugins.check_failed"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def _check_health_check(name: str, check: HealthCheck) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"health check name {name!r} must be lower case letters, digits, ._-")
    if not callable(check):
        raise TypeError(f"health check {name!r} is not callable")


HEALTH_CHECKS: Registry[HealthCheck] = Registry("health check", check=_check_health_check)
"""Every health check by name, in the order `run_health` runs them."""


def register_health_check(name: str, check: HealthCheck) -> HealthCheck:
    """Add ``check`` under ``name`` (lower case, digits, ``._-``); the name must be new."""
    return HEALTH_CHECKS.register(name, check)


def unregister_health_check(name: str) -> None:
    """Remove a check (for plugin unloading and tests); an unknown name is ignored."""
    HEALTH_CHECKS.unregister(name)


def registered_health_checks() -> Mapping[str, HealthCheck]:
    """The registered checks by name (a live read-only view), in registration order."""
    return HEALTH_CHECKS.view()


def run_check(name: str, check: HealthCheck, data: CheckInput) -> list[Finding]:
    """Run one check; a failing check is reported as a finding, never raised."""
    try:
        found = check(data)
        if not isinstance(found, list | tuple) or not all(isinstance(f, Finding) for f in found):
            raise TypeError(f"returned {type(found).__name__}, not a list of Finding")
    except Exception as exc:  # one check's bug must not cost the user the whole report
        return [_failed(name, exc)]
    return list(found)


def _failed(name: str, exc: Exception) -> Finding:
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Finding(
        check=FAILED_CHECK,
        severity="warning",
        title=f"The health check {name!r} failed",
        message=f"{reason}. Its findings are missing from this report; the others are complete.",
        suggestion=(
            "If a plugin provides it, update or disable that plugin (Settings > Plugins);"
            " otherwise report this error."
        ),
        details={"check": name, "error": reason},
    )
