"""A DataTable whose rows are keyed by id and whose selection survives a refresh.

Why: the view is refolded whenever another process writes, which rebuilds every
row; without this the highlighted proposal would jump back to the top under the
user's finger, and a key press could act on the wrong proposal. It also fits its
columns to the terminal: long titles and voter lists are cut with an ellipsis, so
the amounts and tallies stay in view instead of scrolling off to the right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable


class KeyedTable(DataTable[str | Text]):
    """Rows keyed by a stable id; ``selected_key`` is the highlighted row's key."""

    DEFAULT_CSS = """
    KeyedTable {
        height: auto;
        max-height: 12;
        border: round $primary 40%;
        border-title-color: $text;
        border-title-style: bold;
        margin-bottom: 0;
    }
    KeyedTable:focus {
        border: round $primary;
    }
    """

    MIN_WIDTH = 10
    """A flexible column is never cut narrower than this."""

    def __init__(self, columns: Sequence[str], flexible: Sequence[int] = (),
                 **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = columns
        self._flexible = tuple(flexible)
        self._rows: list[tuple[str, dict[str, Any], Sequence[str | Text]]] = []
        self._fitted_to = 0
        self.rows_by_key: dict[str, dict[str, Any]] = {}

    def on_resize(self) -> None:
        if self.size.width != self._fitted_to:
            self.replace_rows(self._rows)

    def _fit(self, widths: list[int]) -> list[int]:
        """Shrink the flexible columns, widest first, until the row fits the table."""
        room = self.size.width - 2 * self.cell_padding * len(widths)
        self._fitted_to = self.size.width
        if room <= 0:
            return widths
        widths = list(widths)
        while sum(widths) > room:
            wide = max(self._flexible, key=lambda i: widths[i], default=None)
            if wide is None or widths[wide] <= self.MIN_WIDTH:
                break
            widths[wide] -= 1
        return widths

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        return str(self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value)

    @property
    def selected(self) -> dict[str, Any] | None:
        key = self.selected_key
        return self.rows_by_key.get(key) if key is not None else None

    def replace_rows(
        self, rows: Iterable[tuple[str, dict[str, Any], Sequence[str | Text]]]
    ) -> None:
        """Swap in new rows (key, record, cells), keeping the highlighted key if it stays."""
        keep = self.selected_key
        old_row = self.cursor_row
        rows = self._rows = list(rows)
        # Fixed column widths, measured here: DataTable's own auto-width pass runs
        # later, on idle, and can leave a header rendered at its old width.
        widths = [cell_len(label) for label in self._columns]
        for _key, _record, cells in rows:
            for i, cell in enumerate(cells):
                plain = cell.plain if isinstance(cell, Text) else cell
                widths[i] = max(widths[i], max(map(cell_len, plain.splitlines() or [""])))
        widths = self._fit(widths)
        self.clear(columns=True)
        for label, width in zip(self._columns, widths, strict=True):
            self.add_column(label, width=width)
        self.rows_by_key = {}
        for key, record, cells in rows:
            self.rows_by_key[key] = record
            self.add_row(*map(_cut, cells), key=key)
        if keep is not None and keep in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(keep), animate=False, scroll=False)
        elif self.row_count:
            self.move_cursor(row=min(old_row, self.row_count - 1), animate=False, scroll=False)


def _cut(cell: str | Text) -> Text:
    """One line, an ellipsis where it does not fit."""
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text
