"""Fixtures shared by the app tests: the red/green/blue project of the pre-label tests."""

from test_prelabel import colours  # noqa: F401 - a fixture, found by pytest by its name
