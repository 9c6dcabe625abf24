"""What the generated Landsat, HLS and MODIS catalogues share: a scene's pixel grid
around a site, its Cloud-Optimized GeoTIFF files, and its footprint in EPSG:4326."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine
from sample_catalogue import utm_epsg


def utm_window(lon: float, lat: float, pixel: float, pixels: int) -> tuple[int, Affine]:
    """The UTM zone (EPSG code) of a site and a ``pixels``-wide grid of ``pixel`` metres
    around it, aligned to whole pixels as the scenes of a real path/row or tile are."""
    epsg = utm_epsg(lon, lat)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    x0 = (x // pixel) * pixel - pixels // 2 * pixel
    y0 = (y // pixel + 1) * pixel + pixels // 2 * pixel
    return epsg, Affine(pixel, 0.0, x0, 0.0, -pixel, y0)


def write_cog(
    path: Path,
    data: np.ndarray,
    crs: str,
    transform: Affine,
    nodata: float,
    blocksize: int = 16,
    tags: dict[str, str] | None = None,
) -> None:
    """One band as a deflate-compressed COG, with band ``tags`` (e.g. HLS's scale_factor
    in the file's metadata, where CMR-STAC items say nothing)."""
    rows, cols = data.shape
    with rasterio.open(
        path, "w", driver="COG", width=cols, height=rows, count=1, dtype=data.dtype,
        crs=crs, transform=transform, nodata=nodata, blocksize=blocksize, compress="deflate",
    ) as out:  # fmt: skip
        out.write(data, 1)
        if tags:
            out.update_tags(1, **tags)


def outline(crs: str, transform: Affine, pixels: int, points: int = 2) -> tuple[dict, list]:
    """A square window's GeoJSON polygon in EPSG:4326 and its bbox; ``points`` per edge
    above 2 densify the edges (MODIS' sinusoidal grid is curved in EPSG:4326)."""
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    steps = np.linspace(0, pixels, points)
    edge = [(c, 0) for c in steps] + [(pixels, r) for r in steps[1:]]
    edge += [(c, pixels) for c in steps[::-1][1:]] + [(0, r) for r in steps[::-1][1:]]
    ring = [list(to_wgs84.transform(*(transform @ (c, r)))) for c, r in edge]
    corners = np.array(ring)
    bbox = [*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist()]
    return {"type": "Polygon", "coordinates": [ring]}, bbox
