"""A generated Sentinel-2 L2A-like STAC catalogue, offline, for tests, demo and benchmarks.

For each site (a lon/lat), one tile per date in the site's UTM zone, one
Cloud-Optimized GeoTIFF per band as on the real catalogues: blue, green, red, nir at
10 m (uint16), swir16 and the scene classification scl at 20 m. Pixel values are
known functions of band, date and position (``reflectance``), and the SCL has known
cloud patterns per date (``scl_pattern``), so tests can tell a wrong pixel, date, band
or mask apart. The same data are published in two conventions:

- ``earth-search`` (Element 84 Earth Search v1): asset keys blue, green, red, nir,
  swir16, scl; ``earthsearch:boa_offset_applied`` true from processing baseline 04.00
  on, values on disk are the true reflectance;
- ``planetary-computer``: asset keys B02, B03, B04, B08, B11, SCL; values on disk carry
  the +1000 offset of processing baseline 04.00 (from 25 January 2022), as there.

Run as a script: ``python scripts/sample_catalogue.py OUT --base-url http://...``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SHARED_POINTS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "europe_random_points.geojson"
)
COLLECTION = "sentinel-2-l2a"
OFFSET_START = dt.date(2022, 1, 25)
BOA_ADD_OFFSET = 1000
#: (earth-search key, planetary-computer key, band name, common name, resolution m)
BANDS = (
    ("blue", "B02", "B02", "blue", 10),
    ("green", "B03", "B03", "green", 10),
    ("red", "B04", "B04", "red", 10),
    ("nir", "B08", "B08", "nir", 10),
    ("swir16", "B11", "B11", "swir16", 20),
    ("scl", "SCL", "SCL", None, 20),
)
CONVENTIONS = ("earth-search", "planetary-computer")
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
#: SCL classes: 0 no data, 3 cloud shadow, 4 vegetation, 5 bare soil, 8/9 cloud
#: medium/high probability, 10 thin cirrus.
CLOUDY = (3, 8, 9, 10)


@dataclass(frozen=True)
class Site:
    """Where imagery is generated: a tile per date around (lon, lat)."""

    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class SampleCatalogue:
    root: Path
    collections: dict[str, Path]
    item_count: int


def utm_epsg(lon: float, lat: float) -> int:
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def reflectance(band_index: int, date_index: int, rows: int, cols: int) -> np.ndarray:
    """True surface reflectance (digital numbers, 500..9000) of a band on a date."""
    row, col = np.mgrid[0:rows, 0:cols]
    return (500 + 400 * band_index + 3 * date_index + (row * 7 + col * 13) % 997).astype(np.uint16)


def scl_pattern(date_index: int, rows: int, cols: int) -> np.ndarray:
    """Scene classes of a date, by ``date_index % 4``:

    0: clear (vegetation 4 on the top half, bare soil 5 below);
    1: cloud medium probability (8) on the left third, a cloud shadow (3) band on the
       top eighth, vegetation elsewhere: the tile centre is clear;
    2: entirely cloud high probability (9);
    3: a disc of thin cirrus (10) of radius rows/4 on the tile centre, vegetation
       elsewhere: the centre is masked, about 20% of the tile is.
    Every fifth date (``date_index % 5 == 4``) also has no data (0) on its last eighth
    of rows, where the reflectances are 0 (nodata) too.
    """
    row, col = np.mgrid[0:rows, 0:cols]
    kind = date_index % 4
    scl = np.full((rows, cols), 4, dtype=np.uint8)
    if kind == 0:
        scl[row >= rows // 2] = 5
    elif kind == 1:
        scl[col < cols // 3] = 8
        scl[row < rows // 8] = 3
    elif kind == 2:
        scl[:] = 9
    else:
        inside = (row + 0.5 - rows / 2) ** 2 + (col + 0.5 - cols / 2) ** 2 <= (rows / 4) ** 2
        scl[inside] = 10
    if date_index % 5 == 4:
        scl[row >= rows - rows // 8] = 0
    return scl


def default_dates(year: int = 2023, every_days: int = 5) -> list[dt.date]:
    start = dt.date(year, 1, 1)
    days = (dt.date(year, 12, 31) - start).days
    return [start + dt.timedelta(days=d) for d in range(0, days + 1, every_days)]


def europe_sites(path: Path | None = None) -> list[Site]:
    """The 24 points of the SITS tutorial when ../shared/data has them, else 24
    deterministic random points over Europe."""
    path = path or SHARED_POINTS
    if path.exists():
        features = json.loads(path.read_text())["features"]
        sites = []
        for number, feature in enumerate(features):
            props = feature.get("properties") or {}
            name = str(props.get("pt_id", props.get("id", number)))
            lon, lat = feature["geometry"]["coordinates"][:2]
            sites.append(Site(name, float(lon), float(lat)))
        return sites
    rng = random.Random(24)
    return [Site(str(n), rng.uniform(-10, 30), rng.uniform(36, 60)) for n in range(24)]


def _tile(site: Site, pixels: int) -> tuple[int, float, float]:
    """EPSG code and top-left corner of the site's tile, aligned to 60 m."""
    from pyproj import Transformer

    epsg = utm_epsg(site.lon, site.lat)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(site.lon, site.lat)
    half = pixels * 10 / 2
    return epsg, math.floor((x - half) / 60) * 60, math.ceil((y + half) / 60) * 60


def sentinel2_item(
    item_id: str, epsg: int, x0: float, y0: float, size: float,
    properties: dict[str, Any], assets: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """A Sentinel-2 L2A item of a UTM tile (``size`` metres from its upper-left corner
    ``x0``, ``y0``): its footprint and bbox from the tile's grid, the extensions the
    catalogue declares, the tile's projection properties after ``properties``."""
    geometry = _footprint(epsg, x0, y0, size)
    ring = np.array(geometry["coordinates"][0])
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": EXTENSIONS,
        "id": item_id,
        "collection": COLLECTION,
        "bbox": [*ring.min(axis=0).tolist(), *ring.max(axis=0).tolist()],
        "geometry": geometry,
        "properties": {**properties, "proj:epsg": epsg, "proj:code": f"EPSG:{epsg}"},
        "assets": assets,
        "links": [],
    }


def _footprint(epsg: int, x0: float, y0: float, size: float) -> dict[str, Any]:
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(epsg, 4326, always_xy=True)
    corners = [(x0, y0), (x0 + size, y0), (x0 + size, y0 - size), (x0, y0 - size), (x0, y0)]
    ring = [list(to_wgs84.transform(x, y)) for x, y in corners]
    return {"type": "Polygon", "coordinates": [ring]}


def _write_cog(path: Path, data: np.ndarray, epsg: int, x0: float, y0: float, res: int) -> None:
    import rasterio
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with rasterio.open(
        partial, "w", driver="COG", width=data.shape[1], height=data.shape[0], count=1,
        dtype=data.dtype, nodata=0, crs=f"EPSG:{epsg}", transform=from_origin(x0, y0, res, res),
        BLOCKSIZE=256, COMPRESS="DEFLATE", OVERVIEWS="NONE",
    ) as dataset:  # fmt: skip
        dataset.write(data, 1)
    partial.replace(path)


def _datetime(date: dt.date, index: int, last: bool) -> str:
    """Varied formats: fractional seconds, none, and a late last acquisition."""
    if last:
        return f"{date.isoformat()}T10:50:00Z"
    if index % 3 == 2:
        return f"{date.isoformat()}T10:46:19Z"
    return f"{date.isoformat()}T10:46:19.024000Z"


def _asset(key: str, name: str, common: str | None, res: int, epsg: int, x0: float, y0: float,
           pixels: int, href: str) -> dict[str, Any]:  # fmt: skip
    size = pixels * 10 // res
    eo_band: dict[str, Any] = {"name": name}
    raster: dict[str, Any] = {"nodata": 0, "spatial_resolution": res}
    if common:
        eo_band["common_name"] = common
        raster |= {"data_type": "uint16", "scale": 0.0001, "offset": 0}
    else:
        raster["data_type"] = "uint8"
    return {
        "href": href,
        "type": COG_TYPE,
        "roles": ["data"],
        "gsd": res,
        "proj:epsg": epsg,
        "proj:shape": [size, size],
        "proj:transform": [res, 0.0, x0, 0.0, -res, y0],
        "eo:bands": [eo_band],
        "raster:bands": [raster],
    }


def _collection(convention: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    column = 0 if convention == "earth-search" else 1
    bboxes = np.array([item["bbox"] for item in items])
    times = sorted(item["properties"]["datetime"] for item in items)
    item_assets = {}
    for band in BANDS:
        asset = _asset(band[column], band[2], band[3], band[4], 0, 0, 0, 256, "")
        item_assets[band[column]] = {
            k: v
            for k, v in asset.items()
            if k not in ("href", "proj:epsg", "proj:shape", "proj:transform")
        } | {"title": f"{band[2]} ({band[3] or 'scene classification'})"}
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": [
            *EXTENSIONS,
            "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json",
        ],
        "id": COLLECTION,
        "title": f"Generated Sentinel-2 L2A ({convention} conventions)",
        "description": "Synthetic Sentinel-2 L2A-like imagery for offline tests.",
        "license": "CC0-1.0",
        "links": [],
        "extent": {
            "spatial": {
                "bbox": [[*bboxes[:, :2].min(axis=0).tolist(), *bboxes[:, 2:].max(axis=0).tolist()]]
            },
            "temporal": {"interval": [[times[0], times[-1]]]},
        },
        "item_assets": item_assets,
        "summaries": {"platform": ["sentinel-2a", "sentinel-2b"], "constellation": ["sentinel-2"]},
    }


def write_collection(
    folder: Path, collection_id: str, description: str, items: list[dict[str, Any]],
    bbox: list[float], dates: list[dt.date],
) -> Path:  # fmt: skip
    """A collection folder as ``rustac serve`` takes it (``collection.json`` and
    ``items.ndjson``), for the other sensors' generated catalogues."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.ndjson").write_text("".join(json.dumps(i) + "\n" for i in items))
    (folder / "collection.json").write_text(json.dumps({
        "type": "Collection", "stac_version": "1.0.0", "id": collection_id,
        "description": description, "license": "proprietary",
        "extent": {"spatial": {"bbox": [bbox]},
                   "temporal": {"interval": [[f"{dates[0]}T00:00:00Z",
                                              f"{dates[-1]}T23:59:59Z"]]}},
        "links": [],
    }))  # fmt: skip
    return folder


def _forget_other_cogs(cogs: Path, manifest: str) -> None:
    """Delete COGs generated for other sites, dates or sizes (pixel values depend on a
    date's position in the list), so that existing files are only reused when valid."""
    recorded = cogs / "manifest.json"
    if cogs.exists() and (not recorded.exists() or recorded.read_text() != manifest):
        shutil.rmtree(cogs)
    cogs.mkdir(parents=True, exist_ok=True)


def make_catalogue(
    root: Path,
    sites: list[Site],
    dates: list[dt.date],
    base_url: str,
    *,
    tile_pixels: int = 256,
    conventions: tuple[str, ...] = CONVENTIONS,
) -> SampleCatalogue:
    """Write the COGs (skipped when already there) and the items for ``base_url``."""
    root.mkdir(parents=True, exist_ok=True)
    collections = {}
    count = 0
    manifest = json.dumps(
        {"sites": [[s.name, s.lon, s.lat] for s in sites], "dates": [str(d) for d in dates],
         "tile_pixels": tile_pixels},
    )  # fmt: skip
    for convention in conventions:
        column = 0 if convention == "earth-search" else 1
        folder = root / convention
        _forget_other_cogs(folder / "cogs", manifest)
        items = []
        for site in sites:
            epsg, x0, y0 = _tile(site, tile_pixels)
            zone = f"{epsg % 100}{'N' if epsg < 32700 else 'S'}"
            for index, date in enumerate(dates):
                baseline = "05.09" if date >= OFFSET_START else "03.01"
                offset = BOA_ADD_OFFSET if column == 1 and date >= OFFSET_START else 0
                platform = "sentinel-2a" if index % 2 == 0 else "sentinel-2b"
                item_id = f"S2{platform[-1].upper()}_{zone}_{site.name}_{date:%Y%m%d}_0_L2A"
                scl20 = scl_pattern(index, tile_pixels // 2, tile_pixels // 2)
                assets = {}
                for band_index, band in enumerate(BANDS):
                    key, res = band[column], band[4]
                    size = tile_pixels * 10 // res
                    path = folder / "cogs" / item_id / f"{key}.tif"
                    if not path.exists():
                        if band[3] is None:
                            data = scl20 if res == 20 else np.repeat(np.repeat(scl20, 2, 0), 2, 1)
                        else:
                            data = reflectance(band_index, index, size, size) + offset
                            nodata = scl_pattern(index, size, size) == 0
                            data[nodata] = 0
                        _write_cog(
                            path,
                            data.astype(np.uint8 if band[3] is None else np.uint16),
                            epsg,
                            x0,
                            y0,
                            res,
                        )
                    href = f"{base_url}/{convention}/cogs/{item_id}/{key}.tif"
                    assets[key] = _asset(
                        key, band[2], band[3], res, epsg, x0, y0, tile_pixels, href
                    )
                properties = {
                    "datetime": _datetime(date, index, index == len(dates) - 1),
                    "platform": platform,
                    "constellation": "sentinel-2",
                    "eo:cloud_cover": round(float(np.isin(scl20, CLOUDY).mean() * 100), 4),
                    "s2:processing_baseline": baseline,
                }
                if column == 0:
                    properties["earthsearch:boa_offset_applied"] = date >= OFFSET_START
                items.append(
                    sentinel2_item(item_id, epsg, x0, y0, tile_pixels * 10, properties, assets)
                )
        (folder / "cogs" / "manifest.json").write_text(manifest)
        (folder / "collection.json").write_text(json.dumps(_collection(convention, items)))
        with (folder / "items.ndjson").open("w") as stream:
            for item in items:
                stream.write(json.dumps(item) + "\n")
        collections[convention] = folder
        count += len(items)
    return SampleCatalogue(root, collections, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--every-days", type=int, default=5)
    parser.add_argument("--tile-pixels", type=int, default=256)
    args = parser.parse_args()
    catalogue = make_catalogue(
        args.out, europe_sites(), default_dates(args.year, args.every_days), args.base_url,
        tile_pixels=args.tile_pixels,
    )  # fmt: skip
    print(f"{catalogue.item_count} items in {catalogue.root}")


if __name__ == "__main__":
    main()
