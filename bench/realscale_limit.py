"""The physical limit of a time-series run on the real-size catalogue: the bytes its
answer cannot do without, over the link, plus its unavoidable round trips.

Computed from the catalogue itself, not from any tool's behaviour: for each point and
date, the scl block(s) under the point's pixel or its window (the mask comes first) of
the items that cover it, in odc-stac's order (time, then id), until every pixel has
data (where neighbouring tiles overlap, the first tile with data wins, so the second's
files are not needed); then, for the dates the mask keeps, the band blocks of the items
that gave pixels;
each distinct (file address, block) once, at its compressed size read from the file's
TIFF tags, and each file's header (the bytes before its first block) once. The round
trips: one request per file for its header and one per distinct block, ``concurrency``
at a time, each ``latency`` long.

    limit = needed bytes / bandwidth + requests * latency / concurrency
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.windows import Window

BLOCK = 1024


@dataclass
class Needed:
    """What a run's answer needs, accumulated point by point."""

    blocks: dict[tuple[str, int, int], int] = field(default_factory=dict)
    headers: dict[str, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(self.blocks.values()) + sum(self.headers.values())

    @property
    def requests(self) -> int:
        return len(self.blocks) + len(self.headers)

    def limit_seconds(self, mbit: float, latency_ms: float, concurrency: int) -> float:
        transfer = self.bytes * 8 / (mbit * 1e6)
        return transfer + self.requests * latency_ms / 1000 / concurrency


@cache
def _layout(path: str) -> tuple[dict[tuple[int, int], int], int]:
    """A file's full-resolution block sizes and its header size (bytes before the first
    block of any resolution), from its TIFF tags."""
    from osgeo import gdal

    dataset = gdal.Open(path)
    band = dataset.GetRasterBand(1)
    levels = [band] + [band.GetOverview(i) for i in range(band.GetOverviewCount())]
    first = math.inf
    sizes = {}
    for level, raster in enumerate(levels):
        columns = math.ceil(raster.XSize / BLOCK)
        rows = math.ceil(raster.YSize / BLOCK)
        for row in range(rows):
            for column in range(columns):
                offset = raster.GetMetadataItem(f"BLOCK_OFFSET_{column}_{row}", "TIFF")
                size = raster.GetMetadataItem(f"BLOCK_SIZE_{column}_{row}", "TIFF")
                if offset and int(size or 0):
                    first = min(first, int(offset))
                    if level == 0:
                        sizes[(row, column)] = int(size)
    return sizes, int(first)


@cache
def _open(path: str) -> rasterio.DatasetReader:
    return rasterio.open(path)


def _window(path: str, lon: float, lat: float, half_m: float) -> Window:
    """The pixels of a file within ``half_m`` metres of a point (its own pixel at 0)."""
    dataset = _open(path)
    x, y = Transformer.from_crs(4326, dataset.crs, always_xy=True).transform(lon, lat)
    row, col = dataset.index(x, y)
    if half_m <= 0:
        return Window(col, row, 1, 1)
    top, left = dataset.index(x - half_m, y + half_m)
    bottom, right = dataset.index(x + half_m, y - half_m)
    return Window(left, top, right - left + 1, bottom - top + 1)


def _blocks(window: Window) -> list[tuple[int, int]]:
    rows = range(int(window.row_off) // BLOCK, int(window.row_off + window.height - 1) // BLOCK + 1)
    cols = range(int(window.col_off) // BLOCK, int(window.col_off + window.width - 1) // BLOCK + 1)
    return [(r, c) for r in rows for c in cols]


def needed(
    collection: Path,
    root: Path,
    points: list[tuple[float, float]],
    start: date,
    end: date,
    bands: list[str],
    *,
    mask_band: str = "scl",
    mask_classes: tuple[int, ...] = (0, 1, 3, 8, 9, 10),
    half_m: float = 0.0,
    max_masked: float = 0.5,
) -> Needed:
    """What the answer for ``points`` needs: pixels (``half_m`` 0) or windows."""
    paths = json.loads((root / "paths.json").read_text())
    items = [json.loads(line) for line in (collection / "items.ndjson").read_text().splitlines()]
    items = [
        i for i in items if start <= date.fromisoformat(i["properties"]["datetime"][:10]) <= end
    ]
    tree = shapely.STRtree([shapely.geometry.shape(i["geometry"]) for i in items])
    result = Needed()

    def take(href: str, window: Window) -> None:
        url_path = "/" + href.split("/", 3)[3]
        physical = str(root / paths[url_path])
        sizes, header = _layout(physical)
        result.headers[url_path] = header
        for block in _blocks(window):
            result.blocks[(url_path, *block)] = sizes[block]

    for lon, lat in points:
        covering = [items[i] for i in tree.query(shapely.Point(lon, lat), predicate="within")]
        by_day: dict[str, list[dict]] = {}
        for item in sorted(covering, key=lambda i: (i["properties"]["datetime"], i["id"])):
            by_day.setdefault(item["properties"]["datetime"][:10], []).append(item)
        for group in by_day.values():
            mosaic, contributing = None, []
            for item in group:  # the first item with data wins each pixel (odc-stac's order)
                href = item["assets"][mask_band]["href"]
                physical = str(root / paths["/" + href.split("/", 3)[3]])
                window = _window(physical, lon, lat, half_m)
                take(href, window)
                classes = _open(physical).read(1, window=window, boundless=True, fill_value=0)
                fresh = classes != 0 if mosaic is None else (classes != 0) & (mosaic == 0)
                if fresh.any():
                    contributing.append(item)
                    mosaic = classes if mosaic is None else np.where(fresh, classes, mosaic)
                if mosaic is not None and (mosaic != 0).all():
                    break  # covered: the next tiles' masks are not needed
            if mosaic is None:
                continue
            masked = float(np.isin(mosaic, mask_classes).mean())
            if (half_m <= 0 and masked > 0) or masked > max_masked:
                continue
            for item in contributing:
                for band in bands:
                    href = item["assets"][band]["href"]
                    physical = str(root / paths["/" + href.split("/", 3)[3]])
                    take(href, _window(physical, lon, lat, half_m))
    return result
