"""The versions a test run ran on, as one JSON line: QGIS, Qt, Python, numpy, GDAL, PROJ.

Run with the test environment's Python (``make test-all`` does, on every QGIS it tests).
"""

from __future__ import annotations

import json
import os
import platform

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy
from osgeo import gdal
from qgis.core import Qgis, QgsProjUtils
from qgis.PyQt.QtCore import PYQT_VERSION_STR, QT_VERSION_STR


def main() -> None:
    with open("/etc/os-release", encoding="utf-8") as release:
        fields = dict(line.rstrip("\n").split("=", 1) for line in release if "=" in line)
    print(
        json.dumps(
            {
                "system": fields.get("PRETTY_NAME", "").strip('"'),
                "qgis": Qgis.version(),
                "qt": QT_VERSION_STR,
                "pyqt": PYQT_VERSION_STR,
                "python": platform.python_version(),
                "numpy": numpy.__version__,
                "gdal": gdal.__version__,
                "proj": f"{QgsProjUtils.projVersionMajor()}.{QgsProjUtils.projVersionMinor()}",
            }
        )
    )


if __name__ == "__main__":
    main()
