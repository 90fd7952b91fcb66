"""The images a filter lets through, in the sort's order, read a page at a time.

`ImageList` holds the row count (one COUNT) and a bounded set of pages of rows, fetched when
someone asks for a row, so memory and start-up time do not grow with the project. It knows no
Qt: the session navigates over it, and the window's list model is a view over the same
object, told about changes through its `listener`.

>>> images = ImageList(project, ImageQuery("unlabeled"))            # doctest: +SKIP
>>> len(images), images.row(0).name, images.position_of(42)         # doctest: +SKIP
"""

from __future__ import annotations

from collections import OrderedDict

from labeler.store import queries
from labeler.store.project import Project
from labeler.store.queries import ImageQuery, ImageRow


class ImageListListener:
    """What a view of the list hears; the default hears nothing."""

    def about_to_reset(self) -> None:
        """Every row is about to change (a new filter, a reload)."""

    def was_reset(self) -> None:
        """Every row changed."""

    def row_changed(self, row: int) -> None:
        """One row was read again (labelled or reviewed changed)."""


class ImageList:
    """Rows of `queries.page`, fetched a page at a time and kept in a small LRU."""

    PAGE = 200
    MAX_PAGES = 30

    def __init__(self, project: Project, query: ImageQuery | None = None) -> None:
        self.project = project
        self.query = query or ImageQuery()
        self.listener = ImageListListener()
        self._count = queries.count(project, self.query)
        self._pages: OrderedDict[int, list[ImageRow]] = OrderedDict()

    def __len__(self) -> int:
        return self._count

    def set_query(self, query: ImageQuery) -> None:
        self.listener.about_to_reset()
        self.query = query
        self._pages.clear()
        self._count = queries.count(self.project, query)
        self.listener.was_reset()

    def reload(self) -> None:
        """Count and rows again (after an import or a class merge)."""
        self.set_query(self.query)

    def row(self, row: int) -> ImageRow | None:
        if not 0 <= row < self._count:
            return None
        n = row // self.PAGE
        page = self._pages.get(n)
        if page is None:
            page = queries.page(self.project, self.query, n * self.PAGE, self.PAGE)
            self._pages[n] = page
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(n)
        i = row - n * self.PAGE
        return page[i] if i < len(page) else None

    def position_of(self, image_id: int) -> int | None:
        """The image's row, or None when the filter leaves it out."""
        for row, r in self._cached():
            if r.id == image_id:
                return row
        return queries.position_of(self.project, self.query, image_id)

    def cached_rows_of(self, sha256: str) -> list[int]:
        """The rows read so far that show the image with this hash (for thumbnails)."""
        return [row for row, r in self._cached() if r.sha256 == sha256]

    def replace(self, fresh: ImageRow) -> None:
        """Take a re-read row (labelled/reviewed changed) without moving any row."""
        for n, page in self._pages.items():
            for i, r in enumerate(page):
                if r.id == fresh.id:
                    page[i] = fresh
                    self.listener.row_changed(n * self.PAGE + i)
                    return

    def _cached(self):
        for n, page in self._pages.items():
            for i, r in enumerate(page):
                yield n * self.PAGE + i, r
