"""Structure that a rename or a move could break without any run failing: widget
classes named by path in the parameters' metadata, module names that say what each
module is, the status words both writers share."""

from __future__ import annotations

import ast
import importlib
from collections import Counter

from conftest import ROOT
from qgis.core import QgsApplication


def test_every_widget_class_named_in_the_parameters_exists(loaded_plugin) -> None:
    """The dialogs find their widgets by a class path in each parameter's metadata
    (imported only when a dialog opens): a renamed class must fail here, not in a
    user's dialog."""
    from processing.gui.wrappers import WidgetWrapper

    named = {}
    for algorithm in QgsApplication.processingRegistry().providerById("sits").algorithms():
        for parameter in algorithm.parameterDefinitions():
            wrapper = parameter.metadata().get("widget_wrapper", {})
            if isinstance(wrapper, dict) and "class" in wrapper:
                named[wrapper["class"]] = f"{algorithm.id()} {parameter.name()}"
    assert len(named) >= 6, named  # STAC_URL, COLLECTION, BANDS, the masks, INDICES
    for path, where in named.items():
        module, _, name = path.rpartition(".")
        found = getattr(importlib.import_module(module), name, None)
        assert isinstance(found, type) and issubclass(found, WidgetWrapper), (path, where)


#: Names two modules still share: the engine process's client and the STAC API's.
SHARED_NAMES = {"client"}


def test_no_two_engine_modules_share_a_name() -> None:
    """Two modules called ``grid`` (the tiles of a raster, the pixel grid of a feature)
    made every import and traceback ambiguous: they are ``tiling.tiles`` and
    ``timeseries.pixel_grid``."""
    names = Counter(
        path.stem for path in (ROOT / "sits_qgis").rglob("*.py") if path.stem != "__init__"
    )
    assert {name for name, count in names.items() if count > 1} == SHARED_NAMES


def test_both_writers_take_the_status_words_from_one_module() -> None:
    """The table's rows and the cubes' index write the same statuses, from
    ``timeseries.status``; the cubes do not import the table writer for them."""
    from sits_qgis.timeseries import cubes, status, table

    for name in ("STATUS_OK", "STATUS_NO_DATA", "STATUS_ERROR"):
        assert getattr(cubes, name) is getattr(status, name) is getattr(table, name)
    source = ast.parse((ROOT / "sits_qgis" / "timeseries" / "cubes.py").read_text())
    imported = {node.module for node in ast.walk(source) if isinstance(node, ast.ImportFrom)}
    assert "table" not in imported and "status" in imported


def test_the_plugins_packages_import_one_another_relatively() -> None:
    """Installed, the plugin is one package (``sits_plugin``): ``processing_provider``
    and ``ui`` are not top-level there, so an absolute ``from processing_provider...``
    inside them works in the repository's tests and fails in every user's QGIS."""
    own = {"processing_provider", "ui"}
    found = []
    for package in sorted(own):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                    for name in names
                    if name.split(".")[0] in own
                ]
    assert found == []
