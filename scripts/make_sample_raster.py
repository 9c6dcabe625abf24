"""Write the built-in sample raster used by ``make demo``: a synthetic DEM.

A smooth mountain-and-valley surface (float32, metres) in UTM zone 18S with a nodata
value and a few nodata holes, like a real DEM with gaps; generated, so that the demo
runs on a fresh clone without downloading anything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

NODATA = -9999.0


def sample_dem(height: int = 1200, width: int = 1500, seed: int = 42) -> np.ndarray:
    """Elevations with nodata holes (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    surface = (
        1200
        + 900 * np.exp(-(((rows - 400) / 300) ** 2 + ((cols - 900) / 350) ** 2))
        + 150 * np.sin(cols / 90) * np.cos(rows / 120)
        - 0.2 * rows
    )
    dem = (surface + rng.normal(0, 5, surface.shape)).astype(np.float32)
    dem[300:360, 200:420] = NODATA  # a gap, as correlation failures leave in real DEMs
    dem[rng.random(dem.shape) < 0.002] = NODATA
    return dem


def write_sample(path: Path) -> Path:
    dem = sample_dem()
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=dem.shape[0],
        width=dem.shape[1],
        count=1,
        dtype="float32",
        nodata=NODATA,
        crs="EPSG:32718",
        transform=from_origin(620000, 4850000, 30, 30),
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    ) as dataset:
        dataset.write(dem, 1)
        dataset.set_band_description(1, "elevation (m)")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    print(write_sample(parser.parse_args().path))
