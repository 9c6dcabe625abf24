"""A pick list of names kept as comma-separated text: the widget of the bands, indices
and mask parameters.

Plain Qt (``qgis.PyQt`` only, no QGIS class): it is tested on Qt 6 with PyQt6 as well
(tests_qt6/), as QGIS 4 runs it.
"""

from __future__ import annotations

from collections.abc import Sequence

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: A choice of a pick list: the value written in the parameter, its label, its tooltip.
Choice = tuple[str, str, str]


def split_names(text: str) -> list[str]:
    """``"red, nir,,"`` -> ``["red", "nir"]``."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class NamesChecklist(QWidget):
    """A comma-separated list of names, edited as text or by ticking a pick list.

    The text is the value: names typed that the list does not hold (a list still
    loading, a catalogue that could not be reached) are kept.
    """

    def __init__(self, searchable: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text = QLineEdit()
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search…"))
        self.search.setVisible(searchable)
        self.list = QListWidget()
        self.list.setMaximumHeight(150)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        for widget in (self.text, self.search, self.list, self.status):
            layout.addWidget(widget)
        self.text.textChanged.connect(self._tick_from_text)
        self.list.itemChanged.connect(self._text_from_ticks)
        self.search.textChanged.connect(self._filter)
        #: Each value's place in the list as given, which a search reorders.
        self._places: dict[str, int] = {}

    def set_choices(self, choices: Sequence[Choice]) -> None:
        """Fill the list; the names in the text are ticked."""
        self.list.blockSignals(True)
        self.list.clear()
        self._places = {value: place for place, (value, _, _) in enumerate(choices)}
        for value, label, tooltip in choices:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setToolTip(tooltip)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._tick_from_text()
        self._filter(self.search.text())

    def say(self, message: str) -> None:
        """Show ``message`` under the list (empty: hide it)."""
        self.status.setText(message)
        self.status.setVisible(bool(message))

    def ticked(self) -> list[str]:
        return [
            self.list.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.list.count())
            if self.list.item(row).checkState() == Qt.CheckState.Checked
        ]

    def _tick_from_text(self) -> None:
        wanted = {name.lower() for name in split_names(self.text.text())}
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            ticked = str(item.data(Qt.ItemDataRole.UserRole)).lower() in wanted
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)

    def _text_from_ticks(self) -> None:
        listed = {
            str(self.list.item(r).data(Qt.ItemDataRole.UserRole)).lower()
            for r in range(self.list.count())
        }
        typed = [name for name in split_names(self.text.text()) if name.lower() not in listed]
        self.text.blockSignals(True)
        self.text.setText(",".join(self.ticked() + typed))
        self.text.blockSignals(False)

    def _filter(self, text: str) -> None:
        """Only the choices whose label holds the text, the best matches first."""
        wanted = text.strip().lower()
        self._order(wanted)
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(bool(wanted) and wanted not in item.text().lower())

    def _order(self, wanted: str) -> None:
        """The name typed first, then the names that start with it, then the others
        whose label holds it, each in the list's own order: a search for NDVI lists
        NDVI before BNDVI, ENDVI, GBNDVI and GNDVI."""

        def rank(item: QListWidgetItem) -> tuple[int, int]:
            name = str(item.data(Qt.ItemDataRole.UserRole))
            match = 0 if name.lower() == wanted else 1 if name.lower().startswith(wanted) else 2
            return (match if wanted else 2), self._places.get(name, len(self._places))

        self.list.blockSignals(True)
        items = [self.list.takeItem(0) for _ in range(self.list.count())]
        for item in sorted(items, key=rank):
            self.list.addItem(item)
        self.list.blockSignals(False)
