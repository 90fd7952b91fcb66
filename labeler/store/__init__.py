"""The SQLite project store: schema, migrations, queries, transactions. No Qt, no torch."""

from labeler.store.project import Project

__all__ = ["Project"]
