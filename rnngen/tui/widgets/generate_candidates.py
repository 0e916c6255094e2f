"""The Generate tab's next-word table: in pick mode one click on a row picks that word.

A plain DataTable only highlights a row on the first click and selects it on
the second; choosing a word should take one.
"""

from __future__ import annotations

from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable


class CandidateTable(DataTable):
    """Rows of candidate words; a click selects (posts RowSelected) at once while the cursor is shown."""

    async def _on_click(self, event: events.Click) -> None:
        row = event.style.meta.get("row") if event.style.meta else None
        if self.show_cursor and isinstance(row, int) and 0 <= row < self.row_count:
            event.prevent_default()  # DataTable's own handler would only highlight the row
            self.cursor_coordinate = Coordinate(row, 0)
            self.action_select_cursor()
