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
from sample_catalogue import write_collection
from sample_scenes import outline, utm_window, write_cog

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
            epsg, transform = utm_window(lon, lat, PIXEL, pixels)
            tile = f"T{epsg % 100:02d}{name.upper()[:3]}"
            granule = f"HLS.L30.{tile}.{day:%Y%j}T10{number:02d}13.v2.0"
            assets = {}
            layers = [(key, reflectance_dn(i, index, pixels), NODATA)
                      for i, (key, _) in enumerate(REFLECTANCE)]  # fmt: skip
            layers.append((FMASK, fmask(index + number, pixels), 255))
            for key, data, nodata in layers:
                path = folder / f"{granule}.{key}.tif"
                tags = None if key == FMASK else {"scale_factor": str(SCALE), "add_offset": "0"}
                write_cog(path, data, f"EPSG:{epsg}", transform, nodata, tags=tags)
                assets[key] = {
                    "href": f"{files_url}/hls/{path.name}",
                    "title": f"Download {path.name}",
                    "roles": ["data"],
                }  # CMR-STAC's whole description of an asset
            geometry, bbox = outline(f"EPSG:{epsg}", transform, pixels)
            items.append({
                "type": "Feature", "stac_version": "1.0.0",
                "stac_extensions": ["https://stac-extensions.github.io/eo/v1.0.0/schema.json"],
                "id": granule, "collection": COLLECTION,
                "geometry": geometry, "bbox": bbox,
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
