"""The one exception type users see: its message is the one line the CLI prints."""


class LabelerError(Exception):
    """A problem with the user's input or data, reported as a single readable line."""
