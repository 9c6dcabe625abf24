"""Qt 6 tests, run with PyQt6 from the package index (the tools environment: ``make
test``), without QGIS: no QGIS 4 package exists for this machine.

QGIS 4's ``qgis.PyQt`` package re-exports PyQt6 (``qgis/PyQt/QtCore.py`` is
``from PyQt6.QtCore import *``); a package made the same way in a temporary folder lets
the plugin's plain-Qt code import as it does in QGIS 4.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtNetwork")


@pytest.fixture(scope="session", autouse=True)
def qgis_pyqt_on_qt6(tmp_path_factory: pytest.TempPathFactory):
    """``qgis.PyQt`` as QGIS 4 has it, then a QApplication (offscreen)."""
    pytest.importorskip("PyQt6.QtWidgets")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    shim = tmp_path_factory.mktemp("qgis4")
    package = shim / "qgis" / "PyQt"
    package.mkdir(parents=True)
    (shim / "qgis" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from PyQt6 import sip\n")
    for module in QT_MODULES:
        (package / f"{module}.py").write_text(f"from PyQt6.{module} import *  # noqa: F403\n")
    sys.path[:0] = [str(shim), str(ROOT)]
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    yield app
