"""Generate the benchmark rasters (float32 GeoTIFFs of 256 MiB, 1 GiB and 4 GiB) once.

The statistics benchmark needs inputs that look like real data (a smooth terrain with
noise, nodata holes, a CRS) and are stored like real data (512 x 512 tiles,
uncompressed), at sizes where holding the band in memory starts to hurt. They are
written one strip of tiles at a time so that generating them needs little memory, and
are reused across runs: a file is rewritten only when it is missing or has the wrong
shape or size.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

DATA_DIR = Path(__file__).resolve().parent / "data"
BLOCK = 512
NODATA = -9999.0
CRS = "EPSG:32633"
PIXEL_SIZE = 10.0
SEED = 20240601


@dataclass(frozen=True)
class RasterSpec:
    """One benchmark raster: a label for reports and its square side in pixels."""

    label: str
    side: int

    @property
    def path(self) -> Path:
        return DATA_DIR / f"terrain_{self.side}.tif"

    @property
    def data_bytes(self) -> int:
        return self.side * self.side * 4


#: Every raster a benchmark may use; each benchmark picks its sizes by label.
ALL_SPECS = (
    RasterSpec("256 MiB", 8192),
    RasterSpec("1 GiB", 16384),
    RasterSpec("4 GiB", 32768),
)
#: The statistics benchmark's sizes.
SPECS = ALL_SPECS[:2]
#: The filter benchmark's sizes (issue 3).
FILTER_SPECS = ALL_SPECS[1:]


def specs_for(labels: list[str] | None, default: tuple[RasterSpec, ...]) -> tuple[RasterSpec, ...]:
    """The specs with these labels (all of ``default`` when none are given)."""
    if not labels:
        return default
    return tuple(s for s in ALL_SPECS if s.label in labels)


def is_complete(spec: RasterSpec) -> bool:
    """Whether the cached file exists with the expected layout (then it is reused).

    Files are written under a temporary name and renamed when complete, so a file with
    the final name, the right shape and at least the pixel bytes is a finished one.
    """
    path = spec.path
    if not path.is_file() or path.stat().st_size < spec.data_bytes:
        return False
    try:
        with rasterio.open(path) as ds:
            return (
                ds.width == spec.side
                and ds.height == spec.side
                and ds.count == 1
                and ds.dtypes[0] == "float32"
                and ds.nodata == NODATA
                and tuple(ds.block_shapes[0]) == (BLOCK, BLOCK)
            )
    except rasterio.errors.RasterioIOError:
        return False


def _terrain_strip(side: int, row0: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Terrain-like values (metres) for rows ``row0:row0+rows``: separable waves of
    several wavelengths (cheap outer products), a ridge, and pixel noise."""
    x = np.arange(side, dtype=np.float64) / side
    y = (row0 + np.arange(rows, dtype=np.float64)) / side
    field = np.full((rows, side), 1200.0)
    waves = ((1.3, 0.7, 450.0), (3.1, 2.3, 180.0), (7.9, 6.1, 60.0), (23.0, 19.0, 15.0))
    for i, (fx, fy, amplitude) in enumerate(waves):
        phase = 0.37 * (i + 1)
        field += amplitude * np.outer(
            np.cos(2 * np.pi * fy * y + phase), np.sin(2 * np.pi * fx * x + 2 * phase)
        )
    ridge = np.abs(np.sin(2 * np.pi * (1.7 * x + 0.2)))
    field += 350.0 * np.outer(np.exp(-(((y - 0.55) / 0.2) ** 2)), ridge)
    out = field.astype(np.float32)
    out += rng.normal(0.0, 2.5, size=out.shape).astype(np.float32)
    return out


def _holes(side: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Circular nodata holes (row, column, radius in pixels), like lakes or voids."""
    count = 40
    rows = rng.uniform(0, side, count)
    cols = rng.uniform(0, side, count)
    radii = rng.uniform(0.005, 0.05, count) * side
    return list(zip(rows.tolist(), cols.tolist(), radii.tolist()))


def _apply_nodata(strip: np.ndarray, row0: int, holes: list[tuple[float, float, float]]) -> None:
    """Mask the holes and an irregular left edge (a scene border) in place."""
    rows, side = strip.shape
    r = row0 + np.arange(rows, dtype=np.float64)
    edge = (0.02 * side * (1.0 + np.sin(2 * np.pi * 3.0 * r / side))).astype(np.int64)
    cols = np.arange(side)
    strip[cols[None, :] < edge[:, None]] = NODATA
    for hr, hc, radius in holes:
        if hr + radius < row0 or hr - radius >= row0 + rows:
            continue
        c0, c1 = max(0, int(hc - radius)), min(side, int(hc + radius) + 1)
        dr = (r[:, None] - hr) ** 2
        dc = (np.arange(c0, c1, dtype=np.float64)[None, :] - hc) ** 2
        inside = dr + dc <= radius * radius
        strip[:, c0:c1][inside] = NODATA


def write_raster(spec: RasterSpec) -> None:
    """Write ``spec`` strip by strip (one row of tiles: 32 MiB of float32 at 16384
    columns, 64 MiB at 32768; the float64 terrain of a strip is twice that)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = spec.path.with_suffix(".tif.partial")
    side = spec.side
    holes = _holes(side, np.random.default_rng([SEED, side]))
    profile = {
        "driver": "GTiff",
        "width": side,
        "height": side,
        "count": 1,
        "dtype": "float32",
        "nodata": NODATA,
        "crs": CRS,
        "transform": from_origin(400000.0, 5300000.0, PIXEL_SIZE, PIXEL_SIZE),
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "none",
        "interleave": "band",
        "BIGTIFF": "IF_NEEDED",  # the 4 GiB raster needs BigTIFF
    }
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(partial, "w", **profile) as ds:
        for row0 in range(0, side, BLOCK):
            rows = min(BLOCK, side - row0)
            rng = np.random.default_rng([SEED, side, row0])
            strip = _terrain_strip(side, row0, rows, rng)
            _apply_nodata(strip, row0, holes)
            ds.write(strip, 1, window=Window(0, row0, side, rows))
    os.replace(partial, spec.path)


def ensure_rasters(specs: tuple[RasterSpec, ...] = SPECS, force: bool = False) -> list[Path]:
    """The benchmark rasters, generated where missing or incomplete."""
    paths = []
    for spec in specs:
        if force or not is_complete(spec):
            start = time.perf_counter()
            print(f"writing {spec.path} ({spec.label}) ...", flush=True)
            write_raster(spec)
            print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
        else:
            print(f"{spec.path} ({spec.label}) present, reused", flush=True)
        paths.append(spec.path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rewrite even if present")
    parser.add_argument(
        "--sizes",
        nargs="*",
        choices=[s.label for s in ALL_SPECS],
        help="only these sizes (default: all, including the 4 GiB one)",
    )
    args = parser.parse_args(argv)
    specs = specs_for(args.sizes, ALL_SPECS)
    ensure_rasters(specs, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
