"""Qt classes that moved between Qt 5 (QGIS 3) and Qt 6 (QGIS 4), imported from where
the running Qt has them: one place, so the rest of the plugin imports them from here."""

try:  # Qt 6: QAction is a QtGui class
    from qgis.PyQt.QtGui import QAction
except ImportError:  # Qt 5: QtWidgets
    from qgis.PyQt.QtWidgets import QAction

__all__ = ["QAction"]
