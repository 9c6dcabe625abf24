"""The time-series engine against real local servers: a STAC API (rustac) and an HTTP
server with Range support serving generated Sentinel-2-like COGs in Earth Search's and
Planetary Computer's conventions. Every value is checked against rasterio reading the
same file; masked dates against the SCL pixel; statistics against numpy."""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr
from conftest import DATES, SITES
from sample_catalogue import Site
from stac_oracle import (
    centres_inside,
    first_with_data,
    href,
    point_value,
    sample,
    to_crs,
)

from sits_qgis.backend import Backend, BackendConfig, BackendMode
from sits_qgis.errors import SitsError
from sits_qgis.timeseries.features import Feature, FeatureLayer
from sits_qgis.timeseries.options import (
    CubeMode,
    CubeOptions,
    GapFill,
    SeriesOptions,
    Statistic,
    TableOptions,
)
from sits_qgis.timeseries.planning import plan_run, table_target
from sits_qgis.timeseries.running import extract_cubes, extract_table

MASKED = (0, 1, 3, 8, 9, 10)


@pytest.fixture(scope="module")
def stac(sample_stac):
    return sample_stac


def options(stac_url: str, **changes: object) -> SeriesOptions:
    values: dict[str, object] = {
        "stac_url": stac_url,
        "collection": "sentinel-2-l2a",
        "bands": ("red", "nir"),
        "start": date(2022, 1, 1),
        "end": date(2022, 3, 26),
    }
    values.update(changes)
    return SeriesOptions(**values)  # type: ignore[arg-type]


def point_layer(sites: list[Site] = SITES) -> FeatureLayer:
    return FeatureLayer(
        tuple(Feature(s.name, shapely.to_wkb(shapely.Point(s.lon, s.lat))) for s in sites),
        "EPSG:4326",
    )


def items_by_site(plan) -> dict[str, list[dict]]:
    return {p.feature_id: list(p.job.items) for p in plan.features if p.job}


def table_rows(stac_url: str, layer: FeatureLayer, backend, **changes: object):
    """A point table run's plan and every row (a status row for a feature without any)."""
    run = extract_table(layer, options(stac_url, **changes), TableOptions(), backend, points=True)
    return run.plan, [row for outcome in run for row in run.rows(outcome)]


def run_points(stac_url: str, backend, **changes: object):
    return table_rows(stac_url, point_layer(), backend, **changes)


def test_point_values_are_the_original_pixels_and_masked_dates_are_gaps(
    stac, processes_backend
) -> None:
    served, _ = stac
    plan, rows = run_points(served.stac_urls["earth-search"], processes_backend)
    assert plan.search.api_requests.searches() == 1  # one search for all features
    assert {r["feature_id"] for r in rows} == {s.name for s in SITES}
    crs = {p.feature_id: str(p.job.target.geobox.crs) for p in plan.features}
    assert crs == {"paris": "EPSG:32631", "west": "EPSG:32631", "east": "EPSG:32632"}
    checked = masked = 0
    for site in SITES:
        items = sorted(items_by_site(plan)[site.name], key=lambda i: i["properties"]["datetime"])
        site_rows = [r for r in rows if r["feature_id"] == site.name]
        assert len(site_rows) == len(DATES) == len(items)
        for row, item in zip(site_rows, items, strict=True):
            assert row["date"][:10] == item["properties"]["datetime"][:10]
            scl = point_value(href(item, "scl"), site.lon, site.lat)
            if scl in MASKED:
                assert (
                    row["status"] == "masked" and row["red"] is None and row["valid_fraction"] == 0
                )
                masked += 1
                continue
            assert row["status"] == "ok" and row["valid_fraction"] == 1
            assert row["red"] == point_value(href(item, "red"), site.lon, site.lat)
            assert row["nir"] == point_value(href(item, "nir"), site.lon, site.lat)
            checked += 1
    assert checked >= 6 and masked >= 2  # the pattern has both


def test_planetary_computer_names_and_offset_are_harmonised(stac, sequential_backend) -> None:
    served, _ = stac
    _, earth = run_points(served.stac_urls["earth-search"], sequential_backend)
    bands = ("B04", "B08")
    _, planetary = run_points(
        served.stac_urls["planetary-computer"], sequential_backend, bands=bands
    )
    pairs = list(zip(earth, planetary, strict=True))
    assert all(e["red"] == p["B04"] and e["nir"] == p["B08"] for e, p in pairs)
    _, raw = run_points(
        served.stac_urls["planetary-computer"], sequential_backend, bands=bands, harmonize=False
    )
    shifted = [
        (e["red"], p["B04"], p["date"])
        for e, p in zip(earth, raw, strict=True)
        if e["red"] is not None
    ]
    assert any(d >= "2022-01-25" for _, _, d in shifted) and any(
        d < "2022-01-25" for _, _, d in shifted
    )
    for red, planetary_red, when in shifted:
        assert planetary_red == red + (1000 if when >= "2022-01-25" else 0)


def test_linear_gap_filling_interpolates_masked_dates(stac, sequential_backend) -> None:
    served, _ = stac
    url = served.stac_urls["earth-search"]
    _, plain = run_points(url, sequential_backend)
    _, filled = run_points(url, sequential_backend, gapfill=GapFill.LINEAR)
    for site in SITES:
        series = [r for r in plain if r["feature_id"] == site.name]
        result = [r for r in filled if r["feature_id"] == site.name]
        seconds = np.array(
            [np.datetime64(r["date"][:-1]).astype("datetime64[s]").astype(float) for r in series]
        )
        values = np.array([np.nan if r["red"] is None else r["red"] for r in series])
        valid = ~np.isnan(values)
        expected = np.interp(seconds, seconds[valid], values[valid])  # holds the ends
        got = np.array([r["red"] for r in result])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
        assert [r["status"] for r in result] == ["filled" if not v else "ok" for v in valid]


def test_buffer_statistics_equal_numpy_over_pixel_centres_inside(stac, processes_backend) -> None:
    served, _ = stac
    opts = options(served.stac_urls["earth-search"], bands=("red",), indices=("NDVI",))
    stats = tuple(Statistic)
    table = TableOptions(buffer=45.0, statistics=stats)
    run = extract_table(point_layer(SITES[:1]), opts, table, processes_backend, points=True)
    assert run.columns[:2] == ["red_mean", "red_median"] and "NDVI_count" in run.columns
    rows = [r for o in run for r in run.rows(o)]
    plan = run.plan
    site = SITES[0]
    items = sorted(plan.jobs[0].items, key=lambda i: i["properties"]["datetime"])
    compared = 0
    for row, item in zip(rows, items, strict=True):
        red_url = href(item, "red")
        import rasterio

        with rasterio.open(red_url) as dataset:
            circle = shapely.Point(to_crs(dataset.crs, site.lon, site.lat)).buffer(45.0)
        centres = centres_inside(red_url, circle)
        red = sample(red_url, centres)
        nir = sample(href(item, "nir"), centres)
        scl = sample(href(item, "scl"), centres)
        ok = ~np.isin(scl, MASKED)
        fraction = ok.mean()
        assert row["valid_fraction"] == pytest.approx(fraction, abs=1e-6)
        if 1 - fraction > 0.5:
            assert row["status"] == "masked" and row["red_mean"] is None
            continue
        values = red[ok]
        assert row["red_count"] == len(values)
        assert row["red_mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert row["red_median"] == pytest.approx(np.median(values))
        assert row["red_std"] == pytest.approx(values.std(), rel=1e-9)
        assert (row["red_min"], row["red_max"]) == (values.min(), values.max())
        ndvi = (nir[ok] - values) / (nir[ok] + values)
        assert row["NDVI_mean"] == pytest.approx(ndvi.mean(), rel=1e-6)
        compared += 1
    assert compared >= 4


def test_patch_cubes_are_cf_netcdf_with_the_original_pixels(
    stac, processes_backend, tmp_path: Path
) -> None:
    served, _ = stac
    url = served.stac_urls["earth-search"]
    cube = CubeOptions(folder=str(tmp_path), mode=CubeMode.PATCH, patch_x=6, patch_y=4)
    opts = options(url, bands=("red", "swir16"), headers={"Authorization": "Bearer secret-token"})
    layer = FeatureLayer(
        tuple(
            Feature(i, shapely.to_wkb(shapely.Point(s.lon, s.lat)))
            for i, s in zip(["a/b", "..", "C:x"], SITES, strict=True)
        ),
        "EPSG:4326",
    )
    run = extract_cubes(layer, opts, cube, processes_backend)
    outcomes = {o.feature_id: o for o in run}
    plan = run.plan
    names = sorted(Path(o.path).name for o in outcomes.values())
    assert names == [
        "fid-C_x_patch_20220101_20220326.nc",
        "fid-a_b_patch_20220101_20220326.nc",
        "fid-feature_patch_20220101_20220326.nc",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # nothing else, no partial file
    outcome = outcomes["a/b"]
    cube_data = xr.open_dataset(outcome.path)
    assert cube_data["red"].dims == ("time", "y", "x") and cube_data.sizes == {
        "time": outcome.dates,
        "y": 4,
        "x": 6,
    }
    assert cube_data.attrs["Conventions"] == "CF-1.8"
    assert "secret-token" not in Path(outcome.path).read_bytes().decode("latin-1")
    assert cube_data["red"].attrs["grid_mapping"] == "spatial_ref"
    assert "UTM zone 31N" in cube_data["spatial_ref"].attrs["crs_wkt"]
    job = next(p.job for p in plan.features if p.feature_id == "a/b")
    items = {i["properties"]["datetime"][:10]: i for i in job.items}
    for step, when in enumerate(cube_data["time"].values):
        item = items[str(when)[:10]]
        xs, ys = cube_data["x"].values, cube_data["y"].values
        centres = [(x, y) for y in ys for x in xs]
        red = sample(href(item, "red"), centres).reshape(4, 6)
        swir = sample(href(item, "swir16"), centres).reshape(4, 6)  # 20 m read at 10 m
        scl = sample(href(item, "scl"), centres).reshape(4, 6)
        masked = np.isin(scl, MASKED)
        assert masked.mean() <= 0.5  # the too-masked dates were dropped
        got = cube_data["red"].values[step]
        np.testing.assert_array_equal(np.isnan(got), masked)
        np.testing.assert_array_equal(got[~masked], red[~masked])
        np.testing.assert_array_equal(cube_data["swir16"].values[step][~masked], swir[~masked])
    cube_data.close()
    import rasterio

    with rasterio.open(f"netcdf:{outcome.path}:red") as dataset:  # GDAL places it on the map
        assert dataset.crs.to_epsg() == 32631 and dataset.count == outcome.dates


def test_features_without_images_or_geometry_get_a_status_and_others_go_on(
    stac, sequential_backend
) -> None:
    served, _ = stac
    features = (
        Feature("ocean", shapely.to_wkb(shapely.Point(-30.0, 40.0))),
        Feature("nothing", None),
        Feature("bowtie", shapely.to_wkb(shapely.Polygon([(2, 48), (3, 49), (3, 48), (2, 49)]))),
        Feature("paris", shapely.to_wkb(shapely.Point(SITES[0].lon, SITES[0].lat))),
    )
    run = extract_table(
        FeatureLayer(features, "EPSG:4326"),
        options(served.stac_urls["earth-search"]),
        TableOptions(),
        sequential_backend,
        points=True,
    )
    outcomes = {o.feature_id: o for o in run}
    assert (
        outcomes["ocean"].status == "no data"
        and "no image of sentinel-2-l2a" in outcomes["ocean"].message
    )
    assert outcomes["nothing"].message == "the feature has no geometry"
    assert "invalid geometry" in outcomes["bowtie"].message
    assert len(outcomes["paris"].rows) == len(DATES)


@pytest.mark.parametrize(
    ("changes", "parameter", "words"),
    [
        ({"collection": "landsat-c2-l2"}, "COLLECTION", "does not exist"),
        ({"bands": ("red", "B99")}, "BANDS", "'B99' does not exist"),
        ({"mask_band": "cloudmask"}, "MASK_BAND", "'cloudmask' does not exist"),
        ({"end": date(2021, 12, 1)}, "END_DATE", "before the start date"),
        ({"indices": ("NOPE",)}, "INDICES", "Unknown spectral index"),
        ({"crs": "EPSG:4326", "resolution": 0.0001}, "BUFFER", "geographic"),
        ({"crs": "EPSG:4326"}, "RESOLUTION", "is in degrees"),
    ],
)
def test_whole_run_mistakes_name_their_parameter(stac, changes, parameter, words) -> None:
    served, _ = stac
    buffer = 20.0 if parameter == "BUFFER" else 0.0
    with pytest.raises(SitsError) as caught:
        plan_run(
            point_layer(),
            options(served.stac_urls["earth-search"], **changes),
            buffer,
            table_target,
        )
    assert caught.value.parameter == parameter and words in str(caught.value)


def test_bad_catalogues_give_clear_messages(stac) -> None:
    served, _ = stac
    cases = {
        "http://127.0.0.1:9/": "Cannot reach",
        served.files_url + "/earth-search/items.ndjson": "STAC",
        served.files_url + "/": "STAC",
    }
    for url, words in cases.items():
        with pytest.raises(SitsError) as caught:
            plan_run(point_layer(), options(url), 0, table_target)
        assert caught.value.parameter == "STAC_URL" and words in str(caught.value)


def test_duplicate_ids_are_refused(stac) -> None:
    served, _ = stac
    point = shapely.to_wkb(shapely.Point(SITES[0].lon, SITES[0].lat))
    layer = FeatureLayer((Feature("a", point), Feature("a", point)), "EPSG:4326")
    with pytest.raises(SitsError, match="'a' are used by more than one feature") as caught:
        plan_run(layer, options(served.stac_urls["earth-search"]), 0, table_target)
    assert caught.value.parameter == "ID_FIELD"


def test_empty_layer_and_missing_crs_are_refused() -> None:
    with pytest.raises(SitsError, match="no features"):
        FeatureLayer((), "EPSG:4326")
    with pytest.raises(SitsError, match="no coordinate reference system"):
        FeatureLayer((Feature("a", None),), "")


def test_one_search_followed_through_its_pages(stac, monkeypatch) -> None:
    served, _ = stac
    search_module = importlib.import_module("sits_qgis.stac.search")

    monkeypatch.setattr(search_module, "PAGE_SIZE", 5)
    plan = plan_run(point_layer(), options(served.stac_urls["earth-search"]), 0, table_target)
    counter = plan.search.api_requests
    assert len(plan.search.items) == len(SITES) * len(DATES) == 24
    assert counter.searches() == 1 and counter.count("/search") == 5  # 24 items, 5 per page


def test_cloud_filter_is_applied_on_the_client_when_the_server_cannot(stac) -> None:
    served, _ = stac
    url = served.stac_urls["earth-search"]  # rustac declares no query/filter extension
    everything = plan_run(point_layer(), options(url), 0, table_target).search
    clear = plan_run(point_layer(), options(url, max_cloud=25.0), 0, table_target).search
    expected = {i["id"] for i in everything.items if i["properties"]["eo:cloud_cover"] <= 25}
    assert clear.cloud_filter == "client"
    assert {i["id"] for i in clear.items} == expected and 0 < len(expected) < len(everything.items)


def test_cubes_in_another_crs_take_the_source_pixel_under_each_centre_up_to_the_tile_edges(
    stac, processes_backend, tmp_path: Path
) -> None:
    """EPSG:3035 cubes at 20 m over UTM tiles: each pixel holds the value of the source
    pixel containing its centre (PROJ's exact transformation), masked where SCL says so.
    The 1.5 km buffer crosses the tiles' edges: the east site's cube spans its own tile
    and the west site's (another UTM zone), mosaicked by date; beyond both it is empty."""
    served, _ = stac
    url = served.stac_urls["earth-search"]
    cube = CubeOptions(folder=str(tmp_path), mode=CubeMode.IMAGE, buffer=1500.0)
    opts = options(url, bands=("red", "swir16"), crs="EPSG:3035", resolution=20.0, max_masked=1.0)
    run = extract_cubes(point_layer(SITES[1:]), opts, cube, processes_backend)
    outcomes = list(run)
    plan = run.plan
    assert [o.status for o in outcomes] == ["ok", "ok"]
    beyond_edges = mosaicked = 0
    for outcome in outcomes:
        job = next(p.job for p in plan.features if p.feature_id == outcome.feature_id)
        by_date: dict[str, list[dict]] = {}
        for item in sorted(job.items, key=lambda i: (i["properties"]["datetime"], i["id"])):
            by_date.setdefault(item["properties"]["datetime"][:10], []).append(item)
        data = xr.open_dataset(outcome.path)
        assert data.sizes["time"] == len(by_date) == len(DATES)
        xs, ys = np.meshgrid(data["x"].values, data["y"].values)

        for step, group in enumerate(by_date.values()):
            red, swir, scl = (
                first_with_data(group, a, "EPSG:3035", xs, ys) for a in ("red", "swir16", "scl")
            )
            empty = (red == 0) | np.isin(scl, MASKED)
            got = data["red"].values[step]
            np.testing.assert_array_equal(np.isnan(got), empty)
            np.testing.assert_array_equal(got[~empty], red[~empty])
            np.testing.assert_array_equal(data["swir16"].values[step][~empty], swir[~empty])
            beyond_edges += int((red == 0).sum())
            mosaicked += len(group) > 1
        data.close()
    assert beyond_edges > 0 and mosaicked > 0  # both cases were met


@pytest.fixture(params=[False, True], ids=["gdal-error-codes", "gdal-exceptions"])
def gdal_exceptions(request: pytest.FixtureRequest) -> Iterator[None]:
    """GDAL's Python bindings as they come, and as another plugin or script of the same
    process may leave them (exceptions on)."""
    from osgeo import gdal

    if request.param:
        gdal.UseExceptions()
    yield
    if request.param:
        gdal.DontUseExceptions()


def test_an_unreadable_file_costs_its_date_and_the_others_go_on(
    stac, sequential_backend, gdal_exceptions
) -> None:
    """The sequential backend reads in this process, under ``gdal_exceptions``: the
    date of the missing file is an error row that says which asset of which item and
    why; the feature's other dates and the other features are read."""
    served, _ = stac
    run = extract_table(
        point_layer(),
        options(served.stac_urls["earth-search"]),
        TableOptions(),
        sequential_backend,
        points=True,
    )
    plan = run.plan
    broken = plan.features[0]  # changed between planning and running
    first, *others = broken.job.items
    gone = first | {
        "assets": first["assets"]
        | {
            "red": first["assets"]["red"]
            | {"href": first["assets"]["red"]["href"].replace("red.tif", "gone.tif")}
        }
    }
    broken.job = dataclasses.replace(broken.job, items=(gone, *others))
    outcomes = {o.feature_id: o for o in run}
    rows = outcomes[broken.feature_id].rows
    assert len(rows) == len(DATES)
    [error] = [r for r in rows if r["status"].startswith("error")]
    assert f"cannot read asset 'red' of item {first['id']}" in error["status"]
    assert "gone.tif" in error["status"] and "404" in error["status"]
    assert error["red"] is None and error["nir"] is None
    assert {r["status"] for r in rows if r is not error} <= {"ok", "masked"}
    assert all(len(outcomes[p.feature_id].rows) == len(DATES) for p in plan.features[1:])


def test_a_store_slower_than_the_http_timeout_fails_its_features_quickly(
    tmp_path_factory, sequential_backend
) -> None:
    """The HTTP settings reach GDAL: against a file server that answers after 2.5 s,
    a 1 s timeout without retries fails each feature within seconds, saying why, where
    the default 60 s would wait for every answer."""
    from local_stac import serve_catalogue

    from sits_qgis.stac.client import HttpSettings

    root = tmp_path_factory.mktemp("slow")
    with serve_catalogue(
        root, SITES[:1], DATES[:2], conventions=("earth-search",), latency_ms=2500
    ) as (served, _):
        impatient = options(served.stac_urls["earth-search"], http=HttpSettings(1.0, 0))
        run = extract_table(
            point_layer(SITES[:1]), impatient, TableOptions(), sequential_backend, points=True
        )
        assert run.plan.features[0].job.access.http == HttpSettings(1.0, 0)
        started = time.monotonic()
        [outcome] = list(run)
        elapsed = time.monotonic() - started
    assert outcome.status == "error" and not outcome.rows
    assert "cannot read asset" in outcome.message
    assert "no answer from the server within 1 s, after one attempt" in outcome.message
    assert elapsed < 15


def test_points_sharing_images_open_each_file_once_and_get_their_own_pixels(stac) -> None:
    """Forty points around one site read together: one opening per file (the server's
    log shows its HEAD and one GET per file), the bands of a date only when its SCL
    leaves at least one point clear enough, and each point its own pixel. Fresh
    workers, so that no file is in their GDAL cache yet."""
    served, _ = stac
    rng = np.random.default_rng(3)
    site = SITES[0]
    points = [(site.lon + dx, site.lat + dy) for dx, dy in rng.uniform(-0.012, 0.012, (40, 2))]
    layer = FeatureLayer(
        tuple(Feature(f"p{n}", shapely.to_wkb(shapely.Point(p))) for n, p in enumerate(points)),
        "EPSG:4326",
    )
    backend = Backend(BackendConfig(mode=BackendMode.PROCESSES, workers=2))
    try:
        run = extract_table(
            layer, options(served.stac_urls["earth-search"]), TableOptions(), backend, points=True
        )
        served.http_log.write_text("")  # the reads only
        outcomes = {o.feature_id: o for o in run}
    finally:
        backend.close()
    plan = run.plan
    paths = [line.split("\t")[1].lstrip("/") for line in served.http_log.read_text().splitlines()]
    assert all(paths.count(p) == 2 for p in set(paths))  # HEAD and GET, once per file
    items = sorted(plan.jobs[0].items, key=lambda i: i["properties"]["datetime"])
    clear_somewhere = [
        any(o.rows[step]["status"] == "ok" for o in outcomes.values()) for step in range(len(items))
    ]
    path = {(i["id"], a): href(i, a).split("/", 3)[3] for i in items for a in ("red", "scl")}
    assert {path[(i["id"], "scl")] for i in items} <= set(paths)  # every mask is read
    read_red = [path[(i["id"], "red")] in paths for i in items]
    assert read_red == clear_somewhere and not all(read_red)  # cloudy dates: mask only
    checked = 0
    for n, (lon, lat) in enumerate(points):
        rows = outcomes[f"p{n}"].rows
        items = sorted(plan.jobs[n].items, key=lambda i: i["properties"]["datetime"])
        assert len(rows) == len(items) == len(DATES)
        for row, item in zip(rows, items, strict=True):
            if row["status"] == "ok":
                assert row["red"] == point_value(href(item, "red"), lon, lat)
                checked += 1
    assert checked > 100


def test_the_rasterio_reader_gives_what_gdals_bindings_give(
    stac, sequential_backend, monkeypatch
) -> None:
    """The engine environment has rasterio only (GDAL publishes no wheels of its
    bindings): its reads equal those of GDAL's bindings, pixel for pixel, masks included."""
    from sits_qgis.timeseries import load

    served, _ = stac
    url = served.stac_urls["earth-search"]
    _, with_gdal = run_points(url, sequential_backend, indices=("NDVI",))
    monkeypatch.setattr(load, "GDAL_BINDINGS", False)
    monkeypatch.setattr(load, "_known_grids", {})
    _, with_rasterio = run_points(url, sequential_backend, indices=("NDVI",))
    assert load.GDAL_BINDINGS is False
    assert with_rasterio == with_gdal
    assert {r["status"] for r in with_rasterio} >= {"ok", "masked"}


def test_a_full_disk_is_said_per_cube_not_as_permission_denied(stac, sequential_backend, full_disk):
    served, _ = stac
    cube = CubeOptions(folder=str(full_disk), mode=CubeMode.PATCH, patch_x=64, patch_y=64)
    run = extract_cubes(
        point_layer(), options(served.stac_urls["earth-search"]), cube, sequential_backend
    )
    outcomes = list(run)
    assert outcomes and all(o.status == "error" for o in outcomes)
    for outcome in outcomes:
        assert "the disk of the output folder is full" in outcome.message, outcome.message
        assert "OUTPUT_FOLDER" in outcome.message
    assert not [p for p in full_disk.iterdir() if p.suffix == ".nc"]  # nothing half-written


@pytest.mark.parametrize("cached", [False, True], ids=["gdal", "block cache"])
def test_many_points_of_a_file_read_through_one_window_are_their_own_pixels(
    stac, sequential_backend, monkeypatch, tmp_path, cached
):
    """40 points around one site: each file is read once for all of them (one window
    over the blocks they need), and every value is still the pixel under its point."""
    from sits_qgis.timeseries import load
    from sits_qgis.timeseries.blockcache import CacheSettings

    shared = []

    def spy(windows, block):
        found = _shared_window(windows, block)
        shared.append(found)
        return found

    _shared_window = load._shared_window
    monkeypatch.setattr(load, "_shared_window", spy)
    served, _ = stac
    rng = np.random.default_rng(5)
    sites = [
        Site(f"p{i}", 2.3512 + rng.uniform(-0.008, 0.008), 48.8566 + rng.uniform(-0.006, 0.006))
        for i in range(40)
    ]
    cache = CacheSettings(str(tmp_path / "cache"), 2**30) if cached else None
    url = served.stac_urls["earth-search"]
    plan, rows = table_rows(url, point_layer(sites), sequential_backend, block_cache=cache)
    assert any(window is not None for window in shared)
    checked = 0
    for site in sites:
        items = sorted(items_by_site(plan)[site.name], key=lambda i: i["properties"]["datetime"])
        site_rows = [r for r in rows if r["feature_id"] == site.name]
        for row, item in zip(site_rows, items, strict=True):
            if row["status"] == "ok":
                assert row["red"] == point_value(href(item, "red"), site.lon, site.lat)
                assert row["nir"] == point_value(href(item, "nir"), site.lon, site.lat)
                checked += 1
    assert checked >= 100


def test_a_points_cloudy_date_reads_no_band_for_it_even_when_others_keep_the_date(
    stac, sequential_backend, monkeypatch
):
    """Points of one file are read together, but each band is read only on the grids of
    the points whose own mask keeps the date: the bytes of a cloudy point's block are
    never fetched for a clear neighbour (at real scale, 9% of the bytes of 100 points).
    The oracle is each point's SCL pixel read with rasterio; values stay the pixels."""
    from pyproj import CRS, Transformer

    from sits_qgis.timeseries import load

    asked: list[tuple[str, str, list]] = []
    read_asset = load._read_asset

    def spy(item, asset, targets, access):
        asked.append((item["id"], asset, list(targets)))
        return read_asset(item, asset, targets, access)

    monkeypatch.setattr(load, "_read_asset", spy)
    served, _ = stac
    rng = np.random.default_rng(11)
    sites = [
        Site(f"p{i}", 2.3512 + rng.uniform(-0.008, 0.008), 48.8566 + rng.uniform(-0.006, 0.006))
        for i in range(12)
    ]
    plan, rows = table_rows(
        served.stac_urls["earth-search"], point_layer(sites), sequential_backend
    )
    items = {i["id"]: i for p in plan.features if p.job for i in p.job.items}

    def under(target, site: Site) -> bool:
        """Whether a point's grid (one pixel in the file's CRS) holds the site."""
        wkt, (a, _, c, _, e, f), _ = target
        transform = Transformer.from_crs(4326, CRS.from_wkt(wkt), always_xy=True)
        x, y = transform.transform(site.lon, site.lat)
        return c <= x < c + a and f + e < y <= f

    band_reads = [(i, asset, t) for i, asset, t in asked if asset == "red"]
    assert band_reads
    some_cloudy = 0
    for item_id, _, targets in band_reads:
        item = items[item_id]
        clear = {
            s.name for s in sites
            if point_value(href(item, "scl"), s.lon, s.lat) not in MASKED
        }  # fmt: skip
        wanted = {s.name for s in sites for t in targets if t is not None and under(t, s)}
        assert wanted == clear, item_id
        some_cloudy += len(clear) < len(sites)
    assert some_cloudy  # the case is there: a read that left cloudy points out
    for row in rows:
        if row["status"] == "ok":
            site = next(s for s in sites if s.name == row["feature_id"])
            item = next(
                i for i in items.values() if i["properties"]["datetime"][:10] == row["date"][:10]
                and point_value(href(i, "scl"), site.lon, site.lat) not in MASKED
            )  # fmt: skip
            assert row["red"] == point_value(href(item, "red"), site.lon, site.lat)


def test_a_point_in_the_overlap_of_two_tiles_reads_the_bands_of_the_first_only():
    """Neighbouring tiles overlap (MGRS by about 10 km) and share a date: a point covered
    by the first tile's mask needs none of the second tile's bands; the second is read
    where the first has no data there (its edge), and both when neither has data."""
    from sits_qgis.timeseries.load import _contributing, _Read

    def read(values: list[int]) -> _Read:
        return _Read([np.array(values, dtype=np.uint8).reshape(1, -1)], 0.0, np.dtype("uint8"))

    first, second = {"id": "T34TFL"}, {"id": "T34TFM"}
    group = [first, second]

    def chosen(a: list[int], b: list[int]) -> list[str]:
        reads = {("T34TFL", "scl"): read(a), ("T34TFM", "scl"): read(b)}
        return [item["id"] for item in _contributing(group, 0, "scl", reads)]

    assert chosen([4, 4], [9, 9]) == ["T34TFL"]  # the first covers the point
    assert chosen([0, 4], [9, 9]) == ["T34TFL", "T34TFM"]  # its edge: the second fills
    assert chosen([0, 0], [5, 5]) == ["T34TFM"]
    assert chosen([0, 0], [0, 0]) == ["T34TFL", "T34TFM"]  # no data: read as before


def test_a_shared_window_never_touches_a_block_no_target_needs():
    from sits_qgis.timeseries.load import _shared_window

    block = (256, 256)
    near = [(10 + i, 20 + i, 1, 1) for i in range(8)]  # one block
    assert _shared_window(near, block) == (10, 20, 8, 8)
    assert _shared_window(near[:7], block) is None  # too few to be worth it
    # two groups in diagonal blocks: the window between them would add two blocks
    diagonal = near[:4] + [(300 + i, 300 + i, 1, 1) for i in range(4)]
    assert _shared_window(diagonal, block) is None
    # the same groups side by side in two neighbouring blocks: both blocks are needed
    side = near[:4] + [(10 + i, 300 + i, 1, 1) for i in range(4)]
    assert _shared_window(side, block) == (10, 20, 4, 284)
