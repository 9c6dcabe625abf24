"""A Sentinel-2 L2A catalogue with files of the real size and layout, for the real-scale
benchmark (issue 15), generated once and cached under ``bench/data/realscale``.

Earth Search's ``sentinel-2-l2a`` files, as its items and the files' headers state
them: 10980 x 10980 pixels at 10 m (blue, green, red, nir; uint16, nodata 0) and
5490 x 5490 at 20 m (scl; uint8), 1024 x 1024 blocks, DEFLATE with predictor 2, internal
overviews, on the tile grid of the MGRS tile holding each of the SITS tutorial's 24
sites (upper-left corner at x = k * 100 km - 40 m, y = m * 100 km + 40 m, as real tiles).

What a run reads must cost what it costs there, so the blocks around each site (3 x 3
blocks at 10 m, 30 km square; the tutorial's points and buffers lie within 1.2 km of
their site) hold reflectance with a real texture: correlated noise at two scales over
smooth fields, which DEFLATE with predictor 2 packs to about a megabyte per 1024 x 1024
block, as Sentinel-2's land blocks are (0.5-2 MB). The rest of each tile is flat: no run
reads it, and it keeps the catalogue under 10 GB. Each band has ``VARIANTS`` physical
files per site (and the scl three: clear, partly cloudy, cloudy), which the file
server's path mapping gives to the 73 dates in turn (``paths.json``).

    .venv/bin/python bench/realscale_catalogue.py [--sites 24] [--out bench/data/realscale]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine
from scipy.ndimage import gaussian_filter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
from sample_catalogue import (  # noqa: E402
    _asset,
    _collection,
    _datetime,
    default_dates,
    europe_sites,
    sentinel2_item,
    utm_epsg,
)

TILE = 10980  # pixels at 10 m
BLOCK = 1024
TEXTURED = 3  # blocks per side around a site's block, at 10 m
VARIANTS = 3
#: (asset key, band name, common name, resolution m, mean digital number)
BANDS = (
    ("blue", "B02", "blue", 10, 600),
    ("green", "B03", "green", 10, 850),
    ("red", "B04", "red", 10, 800),
    ("nir", "B08", "nir", 10, 2600),
    ("scl", "SCL", None, 20, 0),
)
#: Scene classes of each scl variant over the textured area: clear (vegetation, bare
#: soil, water), partly cloudy (medium and high probability clouds, their shadows,
#: cirrus over part of it), cloudy (high probability everywhere).
SCL_VARIANTS = ("clear", "partly cloudy", "cloudy")
#: Which scl variant each date gets, in turn: two clear dates of four.
SCL_CYCLE = (0, 1, 0, 2)
CLOUD_COVER = {"clear": 2.0, "partly cloudy": 45.0, "cloudy": 98.0}
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Tile:
    epsg: int
    x0: float
    y0: float
    row: int  # the site's pixel, at 10 m
    col: int


def tile_of(lon: float, lat: float) -> Tile:
    """The MGRS-like tile holding a site at least 5 km from its edges: real tiles are
    109.8 km wide every 100 km, their corners 40 m off the 100 km grid (T31UDQ's upper
    left is 399960, 5400040), so every place is that far inside one of them."""
    epsg = utm_epsg(lon, lat)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    x0 = math.floor((x + 40 - 5000) / 100_000) * 100_000 - 40
    y0 = math.ceil((y - 40 + 5000) / 100_000) * 100_000 + 40
    return Tile(epsg, x0, y0, int((y0 - y) // 10), int((x - x0) // 10))


def textured_window(tile: Tile, resolution: int) -> tuple[slice, slice]:
    """The blocks around the site's block, in pixels of ``resolution``."""
    scale = resolution // 10
    size = TILE // scale
    row, col = tile.row // scale, tile.col // scale
    first_row = max(0, min(row // BLOCK - TEXTURED // 2, size // BLOCK - TEXTURED + 1))
    first_col = max(0, min(col // BLOCK - TEXTURED // 2, size // BLOCK - TEXTURED + 1))
    rows = slice(first_row * BLOCK, min(size, (first_row + TEXTURED) * BLOCK))
    cols = slice(first_col * BLOCK, min(size, (first_col + TEXTURED) * BLOCK))
    return rows, cols


def texture(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A field with the spatial correlation of land reflectance: fields at about
    200 m and 30 m, and pixel noise, each of unit-ish spread."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal(shape).astype(np.float32), 20) * 20
    field += gaussian_filter(rng.standard_normal(shape).astype(np.float32), 3) * 3
    field += rng.standard_normal(shape).astype(np.float32) * 0.35
    return field


def reflectance(tile: Tile, mean: int, seed: int) -> np.ndarray:
    data = np.full((TILE, TILE), mean, dtype=np.uint16)
    rows, cols = textured_window(tile, 10)
    window = texture((rows.stop - rows.start, cols.stop - cols.start), seed)
    data[rows, cols] = np.clip(mean * (1 + 0.25 * window), 1, 10000).astype(np.uint16)
    return data


def scene_classes(tile: Tile, variant: str, seed: int) -> np.ndarray:
    size = TILE // 2
    data = np.full((size, size), 4, dtype=np.uint8)
    rows, cols = textured_window(tile, 20)
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    ground = texture(shape, seed)
    classes = np.where(ground > 0.6, 5, 4).astype(np.uint8)  # bare soil among vegetation
    classes[ground < -1.2] = 6  # water
    if variant == "partly cloudy":
        cloud = texture(shape, seed + 1)
        classes[cloud > 0.3] = 8
        classes[cloud > 0.9] = 9
        classes[(cloud > -0.2) & (cloud <= 0.3)] = 10
        shadow = np.roll(cloud > 0.9, (12, 12), axis=(0, 1)) & (classes < 8)
        classes[shadow] = 3
    elif variant == "cloudy":
        classes[:] = 9
    data[rows, cols] = classes
    return data


def write_cog(path: Path, data: np.ndarray, tile: Tile, resolution: int) -> None:
    """One band as Earth Search publishes it (COG, 1024 blocks, DEFLATE, predictor 2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    profile = {
        "driver": "COG", "width": data.shape[1], "height": data.shape[0], "count": 1,
        "dtype": data.dtype, "nodata": 0, "crs": f"EPSG:{tile.epsg}",
        "transform": Affine(resolution, 0, tile.x0, 0, -resolution, tile.y0),
        "blocksize": BLOCK, "compress": "DEFLATE", "predictor": 2,
        "overview_resampling": "nearest" if data.dtype == np.uint8 else "average",
    }  # fmt: skip
    with rasterio.open(partial, "w", **profile) as out:
        out.write(data, 1)
    partial.replace(path)


def make(out: Path, site_count: int, base_url: str) -> dict:
    """Write what is missing; return the catalogue's description (``catalogue.json``)."""
    sites = europe_sites()[:site_count]
    dates = default_dates(2023, 5)
    files = out / "files"
    paths: dict[str, str] = {}
    items = []
    for number, site in enumerate(sites):
        tile = tile_of(site.lon, site.lat)
        zone = f"{tile.epsg % 100}{'N' if tile.epsg < 32700 else 'S'}"
        for key, _, _, resolution, mean in BANDS:
            count = len(SCL_VARIANTS) if key == "scl" else VARIANTS
            for variant in range(count):
                path = files / site.name / f"{key}_{variant}.tif"
                if path.exists():
                    continue
                started = time.perf_counter()
                seed = 1000 * number + 10 * variant
                if key == "scl":
                    data = scene_classes(tile, SCL_VARIANTS[variant], seed)
                else:
                    data = reflectance(tile, mean, seed + sum(map(ord, key)))
                write_cog(path, data, tile, resolution)
                print(f"{path.relative_to(out)}: {path.stat().st_size / 2**20:.0f} MiB"
                      f" in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        for index, date in enumerate(dates):
            scl = SCL_VARIANTS[SCL_CYCLE[index % len(SCL_CYCLE)]]
            platform = "sentinel-2a" if index % 2 == 0 else "sentinel-2b"
            item_id = f"S2{platform[-1].upper()}_{zone}_{site.name}_{date:%Y%m%d}_0_L2A"
            assets = {}
            for key, name, common, resolution, _ in BANDS:
                variant = SCL_VARIANTS.index(scl) if key == "scl" else index % VARIANTS
                url_path = f"/sentinel-2-l2a/{item_id}/{key}.tif"
                paths[url_path] = f"files/{site.name}/{key}_{variant}.tif"
                assets[key] = _asset(key, name, common, resolution, tile.epsg, tile.x0,
                                     tile.y0, TILE, base_url + url_path)  # fmt: skip
            properties = {
                "datetime": _datetime(date, index, False), "platform": platform,
                "constellation": "sentinel-2", "eo:cloud_cover": CLOUD_COVER[scl],
                "s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": True,
            }  # fmt: skip
            items.append(sentinel2_item(item_id, tile.epsg, tile.x0, tile.y0, TILE * 10,
                                        properties, assets))  # fmt: skip
    folder = out / "collection"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "collection.json").write_text(json.dumps(_collection("earth-search", items)))
    (folder / "items.ndjson").write_text("".join(json.dumps(i) + "\n" for i in items))
    (out / "paths.json").write_text(json.dumps(paths))
    size = sum(p.stat().st_size for p in files.rglob("*.tif"))
    return {"sites": len(sites), "dates": len(dates), "items": len(items),
            "files": len(list(files.rglob("*.tif"))), "bytes": size}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=24)
    parser.add_argument("--out", type=Path, default=HERE / "data" / "realscale")
    parser.add_argument("--base-url", default="http://127.0.0.1:0")
    args = parser.parse_args()
    print(json.dumps(make(args.out, args.sites, args.base_url)))


if __name__ == "__main__":
    main()
