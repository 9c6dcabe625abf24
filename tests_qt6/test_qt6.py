"""The plugin on Qt 6 (QGIS 4), as far as PyQt6 without QGIS allows: every Qt name the
plugin imports or scopes exists in PyQt6, the Qt classes that moved are found where Qt 6
has them, and the plain-Qt widget works."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from conftest import ROOT

#: The plugin's code that QGIS runs (what the zip ships, but the engine's, which has no Qt).
PLUGIN_CODE = [
    ROOT / "__init__.py",
    ROOT / "plugin.py",
    *sorted(p for folder in ("processing_provider", "ui") for p in (ROOT / folder).rglob("*.py")),
]


def _qt_names(path: Path) -> list[tuple[int, str, str]]:
    """(line, Qt module, dotted name) for each name imported from ``qgis.PyQt.<module>``
    and each attribute chain on it (``Qt.CheckState.Checked``), as the file uses them.
    A fallback import for Qt 5 (in an ``except ImportError`` branch) is left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fallback = {
        id(node)
        for handler in ast.walk(tree)
        if isinstance(handler, ast.ExceptHandler)
        for node in ast.walk(handler)
    }
    imported: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("qgis.PyQt.")
            and id(node) not in fallback
        ):
            module = node.module.rsplit(".", 1)[1]
            for alias in node.names:
                imported[alias.asname or alias.name] = module
                found.append((node.lineno, module, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(
            getattr(node, "parent", None), ast.Attribute
        ):
            chain, inner = [], node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in imported:
                found.append(
                    (node.lineno, imported[inner.id], ".".join([inner.id, *reversed(chain)]))
                )
    return found


def _resolves(module: str, dotted: str) -> bool:
    target = importlib.import_module(f"PyQt6.{module}")
    for part in dotted.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def test_every_qt_name_the_plugin_uses_exists_in_qt6():
    used = [(path, *name) for path in PLUGIN_CODE for name in _qt_names(path)]
    assert len(used) > 50  # the scan does see the plugin's Qt code
    # Methods called on a class (QDateTime.fromString) resolve too; instance attributes
    # are not in the scan. What fails is an unscoped enum (Qt.Checked) or a moved class.
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {module}.{dotted}"
        for path, line, module, dotted in used
        if not _resolves(module, dotted)
    ]
    assert not missing, "not in Qt 6:\n" + "\n".join(missing)


def test_the_scan_finds_an_unscoped_enum(tmp_path):
    """The scan's own check: Qt 5-only names are reported."""
    sample = tmp_path / "old.py"
    sample.write_text(
        "from qgis.PyQt.QtCore import Qt\nfrom qgis.PyQt.QtWidgets import QAction\n"
        "x = Qt.Checked\ny = Qt.CheckState.Checked\n"
    )
    names = _qt_names(sample)
    assert [n for n in names if not _resolves(n[1], n[2])] == [
        (2, "QtWidgets", "QAction"),
        (3, "QtCore", "Qt.Checked"),
    ]


def test_qaction_comes_from_qtgui_on_qt6():
    from PyQt6.QtGui import QAction as Qt6Action

    from ui.qt_compat import QAction

    assert QAction is Qt6Action


@pytest.fixture
def checklist():
    from ui.checklist import NamesChecklist

    widget = NamesChecklist(searchable=True)
    widget.set_choices(
        [("red", "red (B04, 10 m)", "Red"), ("nir", "nir (B08, 10 m)", "NIR"),
         ("green", "green (B03, 10 m)", "Green")]
    )  # fmt: skip
    yield widget
    widget.deleteLater()


def test_the_checklist_ticks_what_the_text_names(checklist):
    checklist.text.setText("nir, RED")
    assert checklist.ticked() == ["red", "nir"]


def test_ticking_writes_the_text_and_keeps_names_the_list_lacks(checklist):
    from PyQt6.QtCore import Qt

    checklist.text.setText("red,swir22")  # swir22: not (yet) in the list
    item = checklist.list.findItems("green (B03, 10 m)", Qt.MatchFlag.MatchExactly)[0]
    item.setCheckState(Qt.CheckState.Checked)
    assert checklist.text.text() == "red,green,swir22"


def test_the_search_hides_what_does_not_match_and_a_message_shows(checklist):
    checklist.search.setText("B08")
    hidden = [checklist.list.item(r).isHidden() for r in range(checklist.list.count())]
    assert hidden == [True, False, True]
    checklist.say("The catalogue could not be reached.")
    assert not checklist.status.isHidden()
    checklist.say("")
    assert checklist.status.isHidden()


def test_the_search_lists_the_name_typed_first():
    from PyQt6.QtCore import Qt

    from ui.checklist import NamesChecklist

    widget = NamesChecklist(searchable=True)
    names = ["BNDVI", "ENDVI", "EVI", "GBNDVI", "GNDVI", "NDVI", "NDVIMNDWI"]
    widget.set_choices([(name, f"{name}  index", "") for name in names])
    widget.search.setText("NDVI")
    shown = [
        widget.list.item(r).data(Qt.ItemDataRole.UserRole)
        for r in range(widget.list.count())
        if not widget.list.item(r).isHidden()
    ]
    assert shown == ["NDVI", "NDVIMNDWI", "BNDVI", "ENDVI", "GBNDVI", "GNDVI"]
    widget.search.setText("")
    assert [widget.list.item(r).text().split()[0] for r in range(widget.list.count())] == names
    widget.deleteLater()
