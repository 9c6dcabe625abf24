"""One source of truth for choices: the engine's enums and names agree with the lists
in ``sits_qgis.choices`` that the provider and the dialogs show."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sits_qgis import choices


def test_the_engines_enums_are_the_choice_lists() -> None:
    from sits_qgis.backend.config import BackendMode
    from sits_qgis.tiling.filters import Filter
    from sits_qgis.tiling.statistics import STATISTIC_NAMES
    from sits_qgis.timeseries.options import CubeMode, GapFill, Statistic

    assert choices.values(choices.FILTERS) == tuple(f.value for f in Filter)
    assert choices.values(choices.RASTER_STATISTICS) == STATISTIC_NAMES
    assert choices.values(choices.ZONAL_STATISTICS) == tuple(s.label for s in Statistic)
    assert choices.values(choices.GAPFILL) == tuple(g.name.lower() for g in GapFill)
    assert choices.values(choices.VALUES) == ("stored", "physical")  # SeriesOptions.physical
    assert choices.values(choices.CUBE_MODES) == tuple(m.value for m in CubeMode)
    assert choices.values(choices.BACKEND_MODES) == tuple(m.value for m in BackendMode)


def test_the_provider_shows_the_choice_lists(loaded_plugin) -> None:
    from qgis.core import QgsApplication

    from processing_provider import settings

    registry = QgsApplication.processingRegistry()
    filters = registry.createAlgorithmById("sits:rasterfilter")
    assert filters.parameterDefinition("FILTER").options() == choices.labels(choices.FILTERS)
    cubes = registry.createAlgorithmById("sits:extractcubes")
    assert cubes.parameterDefinition("MODE").options() == choices.labels(choices.CUBE_MODES)
    assert cubes.parameterDefinition("GAPFILL").options() == choices.labels(choices.GAPFILL)
    assert cubes.parameterDefinition("VALUES").options() == choices.labels(choices.VALUES)
    table = registry.createAlgorithmById("sits:extracttimeseries")
    statistics = table.parameterDefinition("STATISTICS").options()
    assert statistics == choices.labels(choices.ZONAL_STATISTICS)
    statistics_algorithm = registry.createAlgorithmById("sits:rasterstatistics")
    outputs = [o.name() for o in statistics_algorithm.outputDefinitions()]
    outputs = [name for name in outputs if name not in ("OUTPUT_TILES", "OUTPUT_HTML")]
    assert outputs[: len(choices.RASTER_STATISTICS)] == list(
        choices.values(choices.RASTER_STATISTICS)
    )
    assert [label for label, _ in settings.MODES] == choices.labels(choices.BACKEND_MODES)


def test_every_filter_has_its_code() -> None:
    """No filter falls through to another's computation (the std used to be the default)."""
    from sits_qgis.tiling.filters import Filter, apply_filter

    tile = np.ma.masked_invalid(np.arange(49, dtype="float64").reshape(7, 7))
    results = {kind: apply_filter(tile, kind, 3, 0.2, -1.0) for kind in Filter}
    assert results[Filter.MAXIMUM][0, 0] == 16 and results[Filter.MINIMUM][0, 0] == 0
    assert results[Filter.MEAN][0, 0] == 8


def test_the_shipped_index_list_is_spyndexs_catalogue() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from make_index_list import catalogue

    shipped = json.loads(choices.INDICES_FILE.read_text(encoding="utf-8"))
    assert shipped == catalogue()
    assert "NDVI" in choices.spectral_indices()


@pytest.mark.parametrize("name", ["maximum", "gaussian"])
def test_filter_names_round_trip(name: str) -> None:
    from sits_qgis.tiling.filters import Filter

    assert Filter(name).value in choices.values(choices.FILTERS)
