"""Asset addresses as catalogues give them: ``s3://`` hrefs with an https ``alternate``
(as Copernicus Data Space's items have) are read through the alternate, with the same
values as the plain https catalogue."""

from __future__ import annotations

import pytest
from local_stac import rewritten_collection, serve_folder
from test_timeseries import run_points

from sits_qgis.timeseries.access import asset_href, gdal_path


def test_hrefs_and_their_gdal_paths():
    item = {"assets": {
        "red": {"href": "s3://eodata/Sentinel-2/B04_10m.jp2",
                "alternate": {"s3": {"href": "s3://eodata/x"},
                              "https": {"href": "https://zipper.example/B04_10m.jp2"}}},
        "nir": {"href": "s3://bucket/B08.tif"},
        "scl": {"href": "https://host/SCL.tif"},
    }}  # fmt: skip
    assert asset_href(item, "red") == "https://zipper.example/B04_10m.jp2"
    assert asset_href(item, "nir") == "s3://bucket/B08.tif"
    assert asset_href(item, "scl") == "https://host/SCL.tif"
    assert gdal_path("s3://bucket/B08.tif") == "/vsis3/bucket/B08.tif"
    assert gdal_path("https://host/SCL.tif") == "/vsicurl/https://host/SCL.tif"


@pytest.fixture(scope="module")
def s3_catalogue(sample_stac, tmp_path_factory):
    """The Earth Search convention's items with s3:// hrefs and the https address as
    their alternate, served by a STAC API of their own."""
    _, catalogue = sample_stac
    source = catalogue.collections["earth-search"]
    root = tmp_path_factory.mktemp("s3")

    def s3_hrefs(item: dict) -> None:
        for asset in item["assets"].values():
            https = asset["href"]
            asset["href"] = "s3://no-such-bucket/" + https.split("/", 3)[-1]
            asset["alternate"] = {"https": {"href": https}}

    def make(files_url: str):
        return {"s3": rewritten_collection(source, root / "s3-items", s3_hrefs)}

    with serve_folder(root, make) as served:
        yield served.stac_urls["s3"]


def test_s3_hrefs_with_an_https_alternate_give_the_same_rows(
    s3_catalogue, sample_stac, sequential_backend
):
    served, _ = sample_stac
    _, direct = run_points(served.stac_urls["earth-search"], sequential_backend)
    _, through = run_points(s3_catalogue, sequential_backend)

    def key(row: dict) -> tuple:
        return row["feature_id"], row["date"]

    assert sorted(through, key=key) == sorted(direct, key=key)
    assert len(direct) > 0


@pytest.fixture(scope="module")
def local_file_catalogue(sample_stac, tmp_path_factory):
    """The Earth Search convention's items with asset hrefs naming the files on disk."""
    served, catalogue = sample_stac
    source = catalogue.collections["earth-search"]
    root = tmp_path_factory.mktemp("local-files")

    def file_hrefs(item: dict) -> None:
        for asset in item["assets"].values():
            path = asset["href"].removeprefix(served.files_url + "/")
            asset["href"] = str(catalogue.root / path)

    def make(files_url: str):
        return {"local": rewritten_collection(source, root / "local-items", file_hrefs)}

    with serve_folder(root, make) as local:
        yield local.stac_urls["local"]


def test_local_files_named_by_a_catalogue_are_read_only_when_allowed(
    local_file_catalogue, sample_stac, sequential_backend
):
    served, _ = sample_stac
    _, refused = run_points(local_file_catalogue, sequential_backend)
    assert refused and all("is not an http(s) or s3:// address" in r["status"] for r in refused)
    assert all("allows local files" in r["status"] for r in refused)
    _, direct = run_points(served.stac_urls["earth-search"], sequential_backend)
    _, allowed = run_points(local_file_catalogue, sequential_backend, local_files=True)

    def key(row: dict) -> tuple:
        return row["feature_id"], row["date"]

    assert sorted(allowed, key=key) == sorted(direct, key=key)
