"""A Landsat Collection 2 Level-2 catalogue in Planetary Computer's ``landsat-c2-l2``
conventions, for tests and the demo: Landsat 8 and 9 scenes in two UTM zones with
surface reflectance (uint16, scale 0.0000275, offset -0.2, nodata 0) and ``qa_pixel``.

Asset keys and ``eo:bands`` as there (``red`` is ``SR_B4``, ``nir08`` is ``SR_B5``);
the CRS as ``proj:epsg`` and the pixel grid as ``proj:transform`` at the item level.
``qa_pixel`` holds bit-packed codes for clear land and water, fill, dilated cloud,
cirrus, cloud, cloud shadow, snow, and a medium cloud confidence without the cloud bit,
each placed so that every site sees each of them on some date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sample_catalogue import write_collection
from sample_scenes import outline, utm_window, write_cog

SCALE = 0.0000275
OFFSET = -0.2
PIXEL = 30.0
#: (asset key, band name, common name) of the surface reflectance bands made.
REFLECTANCE = (("red", "SR_B4", "red"), ("nir08", "SR_B5", "nir08"))
QA = "qa_pixel"


def bits(*positions: int, confidences: dict[int, int] | None = None) -> int:
    """A qa_pixel code: single bits set, and two-bit confidences (1 low, 2 medium, 3 high)
    at their first bit (8 cloud, 10 cloud shadow, 12 snow/ice, 14 cirrus)."""
    code = sum(1 << p for p in positions)
    levels = {8: 1, 10: 1, 12: 1, 14: 1} | (confidences or {})
    return code + sum(level << first for first, level in levels.items())


#: qa_pixel codes made from the bit definitions of USGS' Landsat 8-9 Collection 2
#: Level-2 Science Product Guide (bits: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
#: 4 cloud shadow, 5 snow, 6 clear, 7 water; two-bit confidences above). The clear-land
#: code is 21824, the high-confidence cloud 22280, as in real scenes.
QA_CODES = {
    "clear land": bits(6),
    "clear water": bits(6, 7),
    "cloud, high confidence": bits(3, confidences={8: 3}),
    "dilated cloud": bits(1),
    "cloud shadow": bits(4, confidences={10: 3}),
    "cirrus, high confidence": bits(2, confidences={14: 3}),
    "snow": bits(5, confidences={12: 3}),
    "medium cloud confidence, no cloud bit": bits(6, confidences={8: 2}),
    "fill": 1,
}


@dataclass(frozen=True)
class LandsatCatalogue:
    """The collection folder (``collection.json``, ``items.ndjson``) and the dates."""

    collections: dict[str, Path]
    dates: list[date]


def reflectance_dn(band: int, day: int, pixels: int) -> np.ndarray:
    """Surface reflectance digital numbers, different in every pixel, band and date."""
    rows, cols = np.mgrid[0:pixels, 0:pixels]
    reflectance = 0.02 + ((rows * 37 + cols * 11 + day * 53 + band * 101) % 500) / 1000.0
    return np.round((reflectance - OFFSET) / SCALE).astype("uint16")


def qa_pixel(day: int, pixels: int) -> np.ndarray:
    """Each pixel a real qa_pixel code; the code under a pixel changes with the date."""
    rows, cols = np.mgrid[0:pixels, 0:pixels]
    codes = np.array(list(QA_CODES.values()), dtype="uint16")
    return codes[(rows + cols * 3 + day) % len(codes)]


def make_landsat(
    root: Path, files_url: str, sites: list[tuple[str, float, float]], start: date,
    count: int, pixels: int = 48,
) -> LandsatCatalogue:  # fmt: skip
    """``count`` dates, 8 days apart, alternating Landsat 8 and 9, one scene per site."""
    folder = root / "landsat"
    folder.mkdir(parents=True, exist_ok=True)
    dates = [start + timedelta(days=8 * i) for i in range(count)]
    items = []
    for index, day in enumerate(dates):
        platform = "landsat-8" if index % 2 == 0 else "landsat-9"
        for number, (name, lon, lat) in enumerate(sites):
            epsg, transform = utm_window(lon, lat, PIXEL, pixels)
            scene = f"L{platform[-1]}_{name}_{day:%Y%m%d}"
            item_id = (
                f"LC0{platform[-1]}_L2SP_{196 + number:03d}0{26 + number:02d}_{day:%Y%m%d}_02_T1"
            )
            assets = {}
            layers = [(key, band, common, reflectance_dn(i, index, pixels), 0)
                      for i, (key, band, common) in enumerate(REFLECTANCE)]  # fmt: skip
            layers.append((QA, "QA_PIXEL", None, qa_pixel(index + number, pixels), 1))
            for key, band, common, data, nodata in layers:
                path = folder / f"{scene}_{band}.tif"
                write_cog(path, data, f"EPSG:{epsg}", transform, nodata)
                raster = {"data_type": "uint16", "nodata": nodata, "spatial_resolution": PIXEL}
                if key != QA:
                    raster |= {"scale": SCALE, "offset": OFFSET, "unit": "reflectance"}
                eo = {"name": band} | ({"common_name": common} if common else {})
                assets[key] = {
                    "href": f"{files_url}/landsat/{path.name}",
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"] + (["reflectance"] if key != QA else ["cloud"]),
                    "eo:bands": [eo],
                    "raster:bands": [raster],
                }
            geometry, bbox = outline(f"EPSG:{epsg}", transform, pixels)
            items.append({
                "type": "Feature", "stac_version": "1.0.0",
                "stac_extensions": [
                    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                ],
                "id": item_id, "collection": "landsat-c2-l2",
                "geometry": geometry, "bbox": bbox,
                "properties": {
                    "datetime": f"{day}T10:{20 + number:02d}:13.123456Z",
                    "platform": platform, "instruments": ["oli", "tirs"],
                    "eo:cloud_cover": 12.5, "landsat:collection_category": "T1",
                    "landsat:wrs_path": f"{196 + number:03d}",
                    "landsat:wrs_row": f"{26 + number:03d}",
                    "proj:epsg": epsg, "proj:shape": [pixels, pixels],
                    "proj:transform": list(transform)[:6],
                },
                "assets": assets, "links": [],
            })  # fmt: skip
    target = write_collection(
        folder / "landsat-c2-l2", "landsat-c2-l2", "Landsat Collection 2 Level-2 (generated)",
        items, [-180, -90, 180, 90], dates,
    )  # fmt: skip
    return LandsatCatalogue({"landsat-c2-l2": target}, dates)
