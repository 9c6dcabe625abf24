"""A Harmonized Landsat Sentinel-2 (HLS v2.0, ``HLSL30_2.0``) catalogue in NASA's
CMR-STAC conventions (LP DAAC's ``LPCLOUD``), for tests.

Its items are as terse as CMR-STAC's: asset keys are band ids (``B04``, ``B05``,
``Fmask``), with no ``eo:bands``, no ``raster:bands`` and no projection fields, so the
grid comes from the files' headers and the band names from the collection's profile.
The files are as LP DAAC's: int16 surface reflectance (scale 0.0001 in the file's
metadata, nodata -9999) and a uint8 ``Fmask`` (bits: 1 cloud, 2 adjacent to cloud or
shadow, 3 cloud shadow, 4 snow/ice, 5 water, 6-7 aerosol level), in UTM at 30 m.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine
from sample_catalogue import utm_epsg, write_collection

COLLECTION = "HLSL30_2.0"
SCALE = 0.0001
NODATA = -9999
PIXEL = 30.0
#: (asset key, what it is) of the reflectance bands made (Landsat OLI in HLS L30).
REFLECTANCE = (("B04", "red"), ("B05", "nir narrow"))
FMASK = "Fmask"
#: Fmask codes from the HLS v2.0 User Guide's bit table: aerosol level in bits 6-7
#: (0 climatology, 1 low, 2 moderate, 3 high).
FMASK_CODES = {
    "clear, low aerosol": 1 << 6,
    "water, low aerosol": (1 << 5) | (1 << 6),
    "cloud": (1 << 1) | (1 << 6),
    "adjacent to cloud or shadow": (1 << 2) | (1 << 6),
    "cloud shadow": (1 << 3) | (1 << 6),
    "snow or ice": (1 << 4) | (1 << 6),
    "clear, moderate aerosol": 2 << 6,
    "clear, high aerosol": 3 << 6,
    "clear, climatology aerosol": 0,
}


@dataclass(frozen=True)
class HlsCatalogue:
    collections: dict[str, Path]
    dates: list[date]


def reflectance_dn(band: int, day: int, pixels: int) -> np.ndarray:
    """Reflectance x 10000, different in every pixel, band and date."""
    rows, cols = np.mgrid[0:pixels, 0:pixels]
    return (200 + (rows * 41 + cols * 13 + day * 71 + band * 97) % 4000).astype("int16")


def fmask(day: int, pixels: int) -> np.ndarray:
    rows, cols = np.mgrid[0:pixels, 0:pixels]
    codes = np.array(list(FMASK_CODES.values()), dtype="uint8")
    return codes[(rows * 2 + cols + day) % len(codes)]


def make_hls(
    root: Path, files_url: str, sites: list[tuple[str, float, float]], start: date,
    count: int, pixels: int = 40,
) -> HlsCatalogue:  # fmt: skip
    """``count`` dates, 4 days apart, one granule per site and date."""
    folder = root / "hls"
    folder.mkdir(parents=True, exist_ok=True)
    dates = [start + timedelta(days=4 * i) for i in range(count)]
    items = []
    for index, day in enumerate(dates):
        for number, (name, lon, lat) in enumerate(sites):
            epsg = utm_epsg(lon, lat)
            x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
            x0 = (x // PIXEL) * PIXEL - pixels // 2 * PIXEL
            y0 = (y // PIXEL + 1) * PIXEL + pixels // 2 * PIXEL
            transform = Affine(PIXEL, 0.0, x0, 0.0, -PIXEL, y0)
            tile = f"T{epsg % 100:02d}{name.upper()[:3]}"
            granule = f"HLS.L30.{tile}.{day:%Y%j}T10{number:02d}13.v2.0"
            assets = {}
            layers = [(key, reflectance_dn(i, index, pixels), "int16", NODATA)
                      for i, (key, _) in enumerate(REFLECTANCE)]  # fmt: skip
            layers.append((FMASK, fmask(index + number, pixels), "uint8", 255))
            for key, data, dtype, nodata in layers:
                path = folder / f"{granule}.{key}.tif"
                profile = {
                    "driver": "COG", "width": pixels, "height": pixels, "count": 1,
                    "dtype": dtype, "crs": f"EPSG:{epsg}", "transform": transform,
                    "nodata": nodata, "blocksize": 16, "compress": "deflate",
                }  # fmt: skip
                with rasterio.open(path, "w", **profile) as out:
                    out.write(data, 1)
                    if key != FMASK:
                        out.update_tags(1, scale_factor=str(SCALE), add_offset="0")
                assets[key] = {
                    "href": f"{files_url}/hls/{path.name}",
                    "title": f"Download {path.name}",
                    "roles": ["data"],
                }  # CMR-STAC's whole description of an asset
            to_wgs84 = Transformer.from_crs(epsg, 4326, always_xy=True)
            corners = [(0, 0), (pixels, 0), (pixels, pixels), (0, pixels), (0, 0)]
            ring = [list(to_wgs84.transform(*(transform * c))) for c in corners]
            lons, lats = [p[0] for p in ring], [p[1] for p in ring]
            items.append({
                "type": "Feature", "stac_version": "1.0.0",
                "stac_extensions": ["https://stac-extensions.github.io/eo/v1.0.0/schema.json"],
                "id": granule, "collection": COLLECTION,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "bbox": [min(lons), min(lats), max(lons), max(lats)],
                "properties": {
                    "datetime": f"{day}T10:{20 + number:02d}:13.000Z",
                    "start_datetime": f"{day}T10:{20 + number:02d}:13.000Z",
                    "end_datetime": f"{day}T10:{20 + number:02d}:37.000Z",
                    "eo:cloud_cover": 20,
                },
                "assets": assets, "links": [],
            })  # fmt: skip
    target = write_collection(
        folder / COLLECTION, COLLECTION,
        "HLS Landsat Operational Land Imager Surface Reflectance and TOA Brightness Daily"
        " Global 30m v2.0 (generated)",
        items, [-180, -90, 180, 90], dates,
    )  # fmt: skip
    return HlsCatalogue({COLLECTION: target}, dates)
