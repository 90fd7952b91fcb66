"""The images a filter lets through, in the sort's order, with rows read a page at a time.

`ImageList` holds the order as a list of image ids (one query; for 100,000 images a few MB)
and a bounded set of pages of rows, read when someone asks for a row, so start-up time and
memory stay small. The "name" sort is the file name in natural order (`img2` before
`img10`, numbers as numbers, case ignored), then the folder the same way: where a file
lies, absolute or relative, does not move it to the top; SQL gives that order from an
index on `images.name_key` (ADR 0101). It knows no Qt: the session
navigates over it, and the window's list model is a view over the same object, told about
changes through its `listener`.

>>> images = ImageList(project, ImageQuery("unlabeled"))            # doctest: +SKIP
>>> len(images), images.row(0).name, images.position_of(42)         # doctest: +SKIP
"""

from __future__ import annotations

from array import array
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
    """The query's image ids in order, and their rows read a page at a time into a small LRU."""

    PAGE = 200
    MAX_PAGES = 30

    def __init__(self, project: Project, query: ImageQuery | None = None) -> None:
        self.project = project
        self.query = query or ImageQuery()
        self.listener = ImageListListener()
        self._ids = self._order()
        self._pages: OrderedDict[int, list[ImageRow]] = OrderedDict()

    def _order(self) -> array[int]:
        return queries.ordered_ids(self.project, self.query)

    def __len__(self) -> int:
        return len(self._ids)

    def set_query(self, query: ImageQuery) -> None:
        self.listener.about_to_reset()
        self.query = query
        self._pages.clear()
        self._ids = self._order()
        self.listener.was_reset()

    def reload(self) -> None:
        """The order and rows again (after an import, a relink or a class merge)."""
        self.set_query(self.query)

    def row(self, row: int) -> ImageRow | None:
        if not 0 <= row < len(self._ids):
            return None
        n = row // self.PAGE
        page = self._pages.get(n)
        if page is None:
            ids = self._ids[n * self.PAGE : (n + 1) * self.PAGE].tolist()
            page = self._pages[n] = _page(queries.rows(self.project, ids), ids)
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(n)
        return page[row - n * self.PAGE]

    def position_of(self, image_id: int) -> int | None:
        """The image's row, or None when the filter leaves it out."""
        try:
            return self._ids.index(image_id)
        except ValueError:
            return None

    def next_unlabeled(self, after_image_id: int | None) -> int | None:
        """The id of the first unlabeled image after this one in the list's order, wrapping
        around; None when every image of the list is labelled."""
        unlabeled = queries.unlabeled_ids(self.project, self.query)
        if not unlabeled:
            return None
        start = self.position_of(after_image_id) if after_image_id is not None else None
        start = -1 if start is None else start
        n = len(self._ids)
        for k in range(1, n + 1):
            image_id = self._ids[(start + k) % n]
            if image_id in unlabeled:
                return image_id if image_id != after_image_id else None
        return None

    def cached_rows_of(self, sha256: str) -> list[int]:
        """The rows read so far that show the image with this hash (for thumbnails)."""
        return [row for row, r in self._cached() if r is not None and r.sha256 == sha256]

    def replace(self, fresh: ImageRow) -> None:
        """Take a re-read row (labelled/reviewed changed) without moving any row."""
        for row, r in self._cached():
            if r is not None and r.id == fresh.id:
                self._pages[row // self.PAGE][row % self.PAGE] = fresh
                self.listener.row_changed(row)
                return

    def _cached(self):
        for n, page in self._pages.items():
            for i, r in enumerate(page):
                yield n * self.PAGE + i, r


def _page(found: list[ImageRow], ids: list[int]) -> list[ImageRow | None]:
    """Rows aligned with `ids`: None where an image went away since the order was read
    (another process removed it), so rows never shift under the list."""
    by_id = {r.id: r for r in found}
    return [by_id.get(i) for i in ids]
