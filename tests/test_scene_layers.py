"""A footprint's scene on the map, against the local servers: the footprint layer's
action (as QGIS runs it) and the menu's "add the selected scenes" add a true-colour
raster read through GDAL's /vsicurl/, whose pixels are the files' own (rasterio reads
them as the oracle) and which is temporal at the item's date; on a catalogue that
signs its addresses (through the engine's signing), and whose files need AUTHCFG's
bearer token."""

from __future__ import annotations

import json
import os

import processing
import pytest
from blob_store import StoreRules, blob_store
from conftest import SITES, layers_loaded_from
from local_stac import rewritten_collection, serve_folder
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDateTimeRange,
    QgsExpression,
    QgsPointXY,
    QgsProject,
    QgsRaster,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDateTime, Qt
from stac_oracle import point_value
from test_credentials import MASTER
from test_result_layers import beside, layers_panel, map_image, save_image
from test_timeseries_algorithms import common, site_points

from sits_qgis.engine.client import shutdown_session
from sits_qgis.profiles import USER_PROFILES_VARIABLE

TOKEN = "scene-token-of-the-test"
#: The true-colour asset keys of each convention.
TRUE_COLOUR = {
    "earth-search": ("red", "green", "blue"),
    "planetary-computer": ("B04", "B03", "B02"),
}


@pytest.fixture
def project():
    yield QgsProject.instance()
    QgsProject.instance().removeAllMapLayers()


def search(url: str, out, **changes) -> dict:
    params = {k: v for k, v in common(url, site_points()).items() if k not in ("ID_FIELD", "BANDS")}
    return params | {"OUTPUT": str(out)} | changes


def footprint_at(layer: QgsVectorLayer, site, day: str):
    """The footprint over ``site`` on ``day`` (YYYY-MM-DD)."""
    return next(
        f for f in layer.getFeatures()
        if f["datetime"].toString("yyyy-MM-dd") == day
        and f.geometry().contains(QgsPointXY(site.lon, site.lat))
    )  # fmt: skip


def assert_shows_the_files(
    layer: QgsRasterLayer, item: dict, hrefs: list[str], site, day: str
) -> None:
    """Valid, 3 bands whose pixel under the site is each file's, temporal at the item's
    date."""
    assert layer.isValid() and layer.bandCount() == 3
    assert layer.renderer().type() == "multibandcolor"
    to_layer = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), layer.crs(), QgsProject.instance()
    )
    point = to_layer.transform(QgsPointXY(site.lon, site.lat))
    expected = [point_value(href, site.lon, site.lat) for href in hrefs]
    sampled = [layer.dataProvider().sample(point, band) for band in (1, 2, 3)]
    assert [value for value, ok in sampled] == expected and all(ok for _, ok in sampled)
    identified = layer.dataProvider().identify(point, QgsRaster.IdentifyFormat.IdentifyFormatValue)
    assert list(identified.results().values()) == expected
    temporal = layer.temporalProperties()
    assert temporal.isActive() and temporal.mode() == Qgis.RasterTemporalMode.FixedTemporalRange
    when = QDateTime.fromString(item["properties"]["datetime"], Qt.DateFormat.ISODate)
    assert temporal.fixedTemporalRange().begin() == when == temporal.fixedTemporalRange().end()
    assert when.toString("yyyy-MM-dd") == day


def test_the_footprint_action_adds_its_scene_in_true_colour(
    loaded_plugin, sample_stac, tmp_path, project
) -> None:
    served, _ = sample_stac
    out = tmp_path / "items.gpkg"
    processing.runAndLoadResults("sits:searchstac", search(served.stac_urls["earth-search"], out))
    [footprints] = layers_loaded_from(out)
    site, day = SITES[0], "2022-02-14"
    feature = footprint_at(footprints, site, day)
    [action] = [a for a in footprints.actions().actions() if a.name().startswith("Add this scene")]
    assert {"Feature", "Canvas"} <= set(action.actionScopes())
    context = footprints.createExpressionContext()
    context.setFeature(feature)
    exec(QgsExpression.replaceExpressionText(action.command(), context), {})  # as QGIS runs it
    [scene] = [x for x in project.mapLayers().values() if isinstance(x, QgsRasterLayer)]
    item = json.loads(feature["item"])
    assert scene.name() == f"{item['id']} (red, green, blue)"
    assert [scene.bandName(b) for b in (1, 2, 3)] == [
        "Band 1: red (red)", "Band 2: green (green)", "Band 3: blue (blue)"
    ]  # fmt: skip
    hrefs = [item["assets"][key]["href"] for key in TRUE_COLOUR["earth-search"]]
    assert all(h.startswith(served.files_url) for h in hrefs)
    assert_shows_the_files(scene, item, hrefs, site, day)
    # one band chosen: a grey layer of that band
    from sits_plugin.ui.scene_layers import add_scene, scene_of

    nir = add_scene(**scene_of(feature), bands=("nir",))
    to_layer = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), nir.crs(), QgsProject.instance()
    )
    value, ok = nir.dataProvider().sample(to_layer.transform(QgsPointXY(site.lon, site.lat)), 1)
    assert nir.bandCount() == 1 and nir.renderer().type() == "singlebandgray"
    assert ok and value == point_value(item["assets"]["nir"]["href"], site.lon, site.lat)
    project.removeMapLayer(nir.id())
    if os.environ.get("SITS_SCREENSHOTS"):  # that date's footprints over the scene
        when = scene.temporalProperties().fixedTemporalRange().begin()
        frame = QgsDateTimeRange(when.addSecs(-3600), when.addDays(1), True, False)
        extent = scene.extent()
        extent.scale(1.25)
        drawn = map_image([footprints, scene], extent, scene.crs(), frame)
        panel = layers_panel([footprints, scene], drawn.height())
        save_image(beside(panel, drawn), "scene_from_footprint.png")


@pytest.fixture
def signed_catalogue(loaded_plugin, sample_stac, tmp_path, monkeypatch):
    """Planetary Computer's convention in a local store whose blobs need a signature
    from its token service (``StoreRules``, changed by each test); a user profile that
    says so, read by a new engine process; a bearer token as an AUTHCFG of QGIS's
    store, for the files' host."""
    manager = QgsApplication.authManager()
    if not manager.setMasterPassword(MASTER, True):
        pytest.skip("this QGIS profile's authentication database has another master password")
    served, catalogue = sample_stac
    rules = StoreRules(signed=True)
    with blob_store(catalogue.root, rules) as store_url:

        def in_store(item: dict) -> None:
            for asset in item["assets"].values():
                asset["href"] = asset["href"].replace(served.files_url, f"{store_url}/pcstore/data")

        source = catalogue.collections["planetary-computer"]

        def make(_: str):
            return {"signed": rewritten_collection(source, tmp_path / "pc-items", in_store)}

        with serve_folder(tmp_path / "api", make) as api:
            profile = tmp_path / "profiles.json"
            profile.write_text(json.dumps({"catalogues": {"local-pc": {
                "title": "Local signing catalogue", "url": api.stac_urls["signed"],
                "signing": "planetary-computer", "token_url": f"{store_url}/api/sas/v1/token",
                "credential_hosts": [store_url.removeprefix("http://")],
            }}}))  # fmt: skip
            monkeypatch.setenv(USER_PROFILES_VARIABLE, str(profile))
            shutdown_session()  # the next engine reads the profile
            config = QgsAuthMethodConfig("APIHeader")
            config.setName("sits scene test")
            config.setConfig("Authorization", f"Bearer {TOKEN}")
            stored = manager.storeAuthenticationConfig(config)
            assert stored is True or stored[0]  # QGIS 3.22 returns a bool, later a tuple
            try:
                yield config.id(), rules, served.files_url, store_url
            finally:
                manager.removeAuthenticationConfig(config.id())
                shutdown_session()


def selected_scene(qgis_iface, project, out, site, day: str, authcfg: str = ""):
    """The footprint of ``site`` on ``day`` selected in the active layer, and what
    "add the selected scenes" gives."""
    from sits_plugin.ui.scene_layers import add_selected_scenes

    processing.run("sits:searchstac", search("local-pc", out, AUTHCFG=authcfg))
    footprints = QgsVectorLayer(str(out), "footprints", "ogr")
    project.addMapLayer(footprints)
    feature = footprint_at(footprints, site, day)
    assert (feature["stac_url"], feature["authcfg"]) == ("local-pc", authcfg)
    footprints.selectByIds([feature.id()])
    qgis_iface.setActiveLayer(footprints)
    qgis_iface.messageBar().clear_messages()
    return feature, add_selected_scenes(qgis_iface)


def test_the_plugin_menu_adds_the_selected_footprints_scene(
    loaded_plugin, sample_stac, tmp_path, qgis_iface, project
) -> None:
    """*Plugins > SITS > Add the selected scenes*: nothing selected says what to do; a
    selected footprint gives its scene, at its date."""
    from sits_plugin.ui.menu import PluginMenu

    served, _ = sample_stac
    out = tmp_path / "items.gpkg"
    processing.run("sits:searchstac", search(served.stac_urls["earth-search"], out))
    footprints = QgsVectorLayer(str(out), "footprints", "ogr")
    project.addMapLayer(footprints)
    qgis_iface.setActiveLayer(footprints)
    menu = PluginMenu(qgis_iface)
    menu.add()
    try:
        qgis_iface.messageBar().clear_messages()
        menu.scene_action.trigger()
        [said] = qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Warning)
        assert "Select one or more footprints" in said
        site, day = SITES[1], "2022-03-16"
        feature = footprint_at(footprints, site, day)
        footprints.selectByIds([feature.id()])
        menu.scene_action.trigger()
        [scene] = [x for x in project.mapLayers().values() if isinstance(x, QgsRasterLayer)]
        item = json.loads(feature["item"])
        assert scene.name() == f"{item['id']} (red, green, blue)"
        assert scene.temporalProperties().isActive()
        begin = scene.temporalProperties().fixedTemporalRange().begin()
        assert begin.date().toString("yyyy-MM-dd") == day
    finally:
        menu.remove()


def test_a_signed_scene_from_the_selected_footprint(
    signed_catalogue, tmp_path, qgis_iface, project
) -> None:
    """Signed by the engine with the store's token service: red, green and blue are
    B04, B03 and B02 there; the signature stays in GDAL's memory."""
    _, rules, files_url, store_url = signed_catalogue
    site, day = SITES[2], "2022-03-06"
    feature, [scene] = selected_scene(qgis_iface, project, tmp_path / "items.gpkg", site, day)
    item = json.loads(feature["item"])
    hrefs = [item["assets"][key]["href"] for key in TRUE_COLOUR["planetary-computer"]]
    assert all(h.startswith(f"{store_url}/pcstore/data/") and "?" not in h for h in hrefs)
    plain = [h.replace(f"{store_url}/pcstore/data", files_url) for h in hrefs]  # the oracle's
    assert_shows_the_files(scene, item, plain, site, day)
    # every file read was signed (GDAL 3.6 also lists the files' folder, unsigned)
    assert rules.tokens_issued >= 1 and not [p for p in rules.refused if p.endswith(".tif")]
    assert scene.source().startswith("/vsimem/")


def test_a_scene_behind_a_bearer_token_gets_it_only_where_gdal_can_scope_it(
    signed_catalogue, tmp_path, qgis_iface, project
) -> None:
    """GDAL 3.7 and later take AUTHCFG's header for these files alone: the scene
    shows, and the store saw the token; an older GDAL could only send it to every
    server, so the scene is refused with a sentence and nothing carries the token."""
    from osgeo import gdal

    authcfg, rules, files_url, store_url = signed_catalogue
    rules.bearer = TOKEN
    rules.authorizations.clear()
    site, day = SITES[0], "2022-02-14"
    out = tmp_path / "items.gpkg"
    feature, scenes = selected_scene(qgis_iface, project, out, site, day, authcfg)
    if int(gdal.VersionInfo("VERSION_NUM")) >= 3070000:
        item = json.loads(feature["item"])
        hrefs = [item["assets"][key]["href"] for key in TRUE_COLOUR["planetary-computer"]]
        plain = [h.replace(f"{store_url}/pcstore/data", files_url) for h in hrefs]
        assert_shows_the_files(scenes[0], item, plain, site, day)
        assert set(rules.authorizations) == {f"Bearer {TOKEN}"}
        assert not [p for p in rules.refused if p.endswith(".tif")]
    else:
        assert scenes == []
        [said] = qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Warning)
        assert "needs GDAL 3.7 or later" in said and TOKEN not in said
        assert rules.authorizations == []  # no file was asked for, with or without it
