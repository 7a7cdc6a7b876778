"""A DataTable whose rows are keyed by id and whose selection survives a refresh.

Why: the view is refolded whenever another process writes, which rebuilds every
row; without this the highlighted proposal would jump back to the top under the
user's finger, and a key press could act on the wrong proposal.
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

    def __init__(self, columns: Sequence[str], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = columns
        self.rows_by_key: dict[str, dict[str, Any]] = {}

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
        rows = list(rows)
        # Fixed column widths, measured here: DataTable's own auto-width pass runs
        # later, on idle, and can leave a header rendered at its old width.
        widths = [cell_len(label) for label in self._columns]
        for _key, _record, cells in rows:
            for i, cell in enumerate(cells):
                plain = cell.plain if isinstance(cell, Text) else cell
                widths[i] = max(widths[i], max(map(cell_len, plain.splitlines() or [""])))
        self.clear(columns=True)
        for label, width in zip(self._columns, widths, strict=True):
            self.add_column(label, width=width)
        self.rows_by_key = {}
        for key, record, cells in rows:
            self.rows_by_key[key] = record
            self.add_row(*cells, key=key)
        if keep is not None and keep in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(keep), animate=False, scroll=False)
        elif self.row_count:
            self.move_cursor(row=min(old_row, self.row_count - 1), animate=False, scroll=False)
