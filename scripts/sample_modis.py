"""A MODIS-like catalogue in Planetary Computer's ``modis-13Q1-061`` conventions, for
tests: 16-day NDVI COGs on MODIS' sinusoidal grid, a CRS without an EPSG code.

Its items state the projection as Planetary Computer's MODIS items do: ``proj:epsg``
null, the CRS only as ``proj:wkt2``, and ``proj:shape``/``proj:transform`` at the item
level, not on the assets; the NDVI asset carries ``raster:bands`` (int16, nodata -3000,
scale 0.0001). A second collection holds the same files with no projection field at
all: the reader must then take the grid from each file's header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pyproj import Transformer
from rasterio.transform import Affine
from sample_catalogue import write_collection
from sample_scenes import outline, write_cog

#: MODIS' sinusoidal CRS as GDAL writes it for the MODIS tiles (a sphere of radius
#: 6371007.181 m, no EPSG code).
SINUSOIDAL_WKT = (
    'PROJCS["unnamed",GEOGCS["Unknown datum based upon the custom spheroid",'
    'DATUM["Not specified (based on custom spheroid)",SPHEROID["Custom spheroid",'
    '6371007.181,0]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
    'PROJECTION["Sinusoidal"],PARAMETER["longitude_of_center",0],'
    'PARAMETER["false_easting",0],PARAMETER["false_northing",0],UNIT["Meter",1]]'
)
#: MOD13Q1's pixel (4800 per 1111950.5197665 m tile) and the grid's upper-left corner.
PIXEL = 1111950.5197665 / 4800
GRID_ORIGIN = (-20015109.354, 10007554.677)
NDVI = "250m_16_days_NDVI"
NODATA = -3000
SCALE = 0.0001
#: The catalogue's collections: the projection stated as Planetary Computer does, or not.
COLLECTIONS = {"modis-13Q1-061": True, "modis-no-proj": False}


@dataclass(frozen=True)
class ModisCatalogue:
    """Where each collection's ``collection.json`` and ``items.ndjson`` are."""

    collections: dict[str, Path]
    dates: list[date]


def tile_window(lon: float, lat: float, pixels: int) -> tuple[int, int, Affine]:
    """The MODIS tile (h, v) holding a position, and a ``pixels``-wide window of it
    around the position, on the tile's own pixel grid."""
    x, y = Transformer.from_crs("EPSG:4326", SINUSOIDAL_WKT, always_xy=True).transform(lon, lat)
    col = math.floor((x - GRID_ORIGIN[0]) / PIXEL)
    row = math.floor((GRID_ORIGIN[1] - y) / PIXEL)
    h, v = col // 4800, row // 4800
    col0, row0 = col - pixels // 2, row - pixels // 2
    transform = Affine(PIXEL, 0.0, GRID_ORIGIN[0] + col0 * PIXEL, 0.0, -PIXEL,
                       GRID_ORIGIN[1] - row0 * PIXEL)  # fmt: skip
    return h, v, transform


def ndvi(day: int, pixels: int) -> np.ndarray:
    """NDVI digital numbers that differ in every pixel and date, nodata scattered."""
    rows, cols = np.mgrid[0:pixels, 0:pixels]
    data = ((rows * 131 + cols * 17 + day * 977) % 9000 - 1000).astype("int16")
    data[(rows * 7 + cols * 3) % 23 == 0] = NODATA
    return data


def make_modis(
    root: Path, files_url: str, lon: float, lat: float, start: date, count: int, pixels: int = 64
) -> ModisCatalogue:
    """``count`` 16-day composites from ``start`` around (lon, lat), in both collections."""
    h, v, transform = tile_window(lon, lat, pixels)
    geometry, bbox = outline(SINUSOIDAL_WKT, transform, pixels, points=9)
    dates = [start + timedelta(days=16 * i) for i in range(count)]
    folder = root / "modis"
    folder.mkdir(parents=True, exist_ok=True)
    items: dict[str, list[dict]] = {name: [] for name in COLLECTIONS}
    for index, day in enumerate(dates):
        name = f"MOD13Q1.A{day:%Y%j}.h{h:02d}v{v:02d}.061"
        path = folder / f"{name}_{NDVI}.tif"
        write_cog(path, ndvi(index, pixels), SINUSOIDAL_WKT, transform, NODATA, blocksize=32)
        end = day + timedelta(days=15)
        for collection, states_projection in COLLECTIONS.items():
            properties = {
                "datetime": None,
                "start_datetime": f"{day}T00:00:00Z",
                "end_datetime": f"{end}T23:59:59Z",
                "platform": "terra",
                "modis:horizontal-tile": h,
                "modis:vertical-tile": v,
                "modis:tile-id": f"51{h:03d}{v:03d}",
            }
            if states_projection:  # as Planetary Computer's items
                properties.update({
                    "proj:epsg": None,
                    "proj:wkt2": SINUSOIDAL_WKT,
                    "proj:shape": [pixels, pixels],
                    "proj:transform": list(transform)[:6],
                })  # fmt: skip
            items[collection].append({
                "type": "Feature", "stac_version": "1.0.0",
                "stac_extensions": [
                    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                ],
                "id": name, "collection": collection, "geometry": geometry, "bbox": bbox,
                "properties": properties,
                "assets": {NDVI: {
                    "href": f"{files_url}/modis/{path.name}",
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"],
                    "raster:bands": [{"data_type": "int16", "nodata": NODATA, "scale": SCALE}],
                }},
                "links": [],
            })  # fmt: skip
    collections = {}
    for collection, entries in items.items():
        collections[collection] = write_collection(
            folder / collection, collection, "MODIS-like 16-day NDVI (generated for tests)",
            entries, bbox, dates,
        )  # fmt: skip
    return ModisCatalogue(collections, dates)
