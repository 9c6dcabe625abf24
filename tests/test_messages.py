"""What the user reads: parameters named by their label with their id, counts with
their plural, labels that QGIS does not double, one toolbox group per name."""

from __future__ import annotations

import re

import numpy as np
import processing
import pytest
from conftest import write_raster
from qgis.core import QgsApplication, QgsProcessingException

from sits_qgis.wording import plural


def algorithms(provider: str = "sits") -> list:
    return QgsApplication.processingRegistry().providerById(provider).algorithms()


def test_counts_take_their_plural() -> None:
    assert plural(1, "page") == "1 page" and plural(2, "page") == "2 pages"
    assert plural(0, "item") == "0 items" and plural(1, "search") == "1 search"
    assert plural(3, "search") == "3 searches" and plural(2, "local worker") == "2 local workers"
    assert plural(12_000, "item") == "12,000 items"


def test_parameter_ids_become_label_and_id(loaded_plugin) -> None:
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("sits:extracttimeseries")
    said = algorithm.labelled(
        "END_DATE: the end date is before the start date. Feature 'a': error: MASK_BITS:"
        " bit 70; EPSG:4326 and HTTP: stay, as do (INPUT) and MAX_CLOUD without a colon."
    )
    assert said == (
        "End date (END_DATE): the end date is before the start date. Feature 'a': error:"
        " Masked bits of the mask band (MASK_BITS): bit 70; EPSG:4326 and HTTP: stay, as do"
        " (INPUT) and MAX_CLOUD without a colon."
    )
    assert algorithm.labelled(said) == said  # once only


def test_run_errors_and_dialog_checks_both_say_the_label(loaded_plugin, tmp_path) -> None:
    """A check before the run (``checkParameterValues``) and an error of the run
    (``processAlgorithm``) name the parameter alike."""
    with pytest.raises(QgsProcessingException) as checked:
        processing.run(
            "sits:searchstac",
            {"EXTENT": "0,1,0,1 [EPSG:4326]", "STAC_URL": "http://127.0.0.1:9",
             "START_DATE": "2022-01-02", "END_DATE": "2022-01-01", "OUTPUT": "memory:"},
        )  # fmt: skip
    assert "End date (END_DATE): The end date 2022-01-01 is before" in str(checked.value)
    raster = write_raster(tmp_path / "one_band.tif", np.zeros((20, 20), "float32"))
    with pytest.raises(QgsProcessingException) as failed:
        processing.run(
            "sits:rasterfilter",
            {"INPUT": str(raster), "BAND": 2, "OUTPUT": str(tmp_path / "o.tif")},
        )
    assert "Band (BAND): Band 2 does not exist: the raster has 1 band, band 1." in str(failed.value)


def test_no_label_repeats_what_qgis_adds(loaded_plugin) -> None:
    """QGIS writes "[optional]" after an optional parameter's label itself."""
    for algorithm in algorithms():
        for parameter in algorithm.parameterDefinitions():
            assert "optional" not in parameter.description().lower(), (
                algorithm.id(),
                parameter.name(),
            )


def test_the_scheduler_choice_names_the_setting_of_its_address(loaded_plugin) -> None:
    """The options dialog sorts settings by label, so "below" or "above" cannot be
    relied on: the choice names the setting that holds the address."""
    from processing_provider import settings

    labels = {setting.description for setting in settings._settings()}
    [scheduler] = [label for label, mode in settings.MODES if mode.value == "scheduler"]
    named = re.search(r"'([^']+)'", scheduler).group(1)
    assert any(label.startswith(named) for label in labels), scheduler
    for text in [label for label, _ in settings.MODES] + sorted(labels):
        assert not re.search(r"\b(below|above)\b", text), text


def test_the_toolbox_has_one_group_per_name(loaded_plugin) -> None:
    """The example model joins the algorithms' "Time series" group instead of making a
    second one (a model file keeps only the group's name, which QGIS takes as its id)."""
    ids: dict[str, set[str]] = {}
    for algorithm in algorithms():
        ids.setdefault(algorithm.group(), set()).add(algorithm.groupId())
    assert ids["Time series"] == {"timeseries"}
    assert all(len(found) == 1 for found in ids.values()), ids
    assert "sits:Index statistics per point" in {a.id() for a in algorithms()}
