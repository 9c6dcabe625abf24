"""Independent answers for the time-series tests: pixels read straight from the COGs
with rasterio (over the same HTTP server), never through the engine's code paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import rasterio
import shapely
from pyproj import Transformer


def href(item: dict[str, Any], key: str) -> str:
    return item["assets"][key]["href"]


def to_crs(crs: Any, lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)


def to_crs_from(crs: Any, url: str, xs: np.ndarray, ys: np.ndarray) -> tuple[Any, Any]:
    """Coordinates in ``crs`` moved to the file's CRS (PROJ, exact)."""
    with rasterio.open(url) as dataset:
        target = dataset.crs
    return Transformer.from_crs(crs, target, always_xy=True).transform(xs, ys)


def sample(url: str, points: list[tuple[float, float]]) -> np.ndarray:
    """Values of the pixels containing each (x, y) point of the file's CRS."""
    with rasterio.open(url) as dataset:
        return np.array([v[0] for v in dataset.sample(points)], dtype=np.float64)


def point_value(url: str, lon: float, lat: float) -> float:
    with rasterio.open(url) as dataset:
        crs = dataset.crs
    return float(sample(url, [to_crs(crs, lon, lat)])[0])


def centres_inside(url: str, area: Any) -> list[tuple[float, float]]:
    """Centres of the file's pixels that fall inside ``area`` (file CRS)."""
    with rasterio.open(url) as dataset:
        transform = dataset.transform
        res = transform.a
    x0, y0, x1, y1 = area.bounds
    cols = np.arange(np.floor((x0 - transform.c) / res), np.ceil((x1 - transform.c) / res))
    rows = np.arange(np.floor((transform.f - y1) / res), np.ceil((transform.f - y0) / res))
    xs = transform.c + (cols + 0.5) * res
    ys = transform.f - (rows + 0.5) * res
    grid = [(x, y) for y in ys for x in xs]
    return [p for p in grid if area.contains(shapely.Point(p))]


def first_with_data(
    items: list[dict[str, Any]], key: str, crs: Any, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    """At each (x, y) of ``crs``, the first item's pixel value that is not nodata (0):
    odc-stac's mosaic of one date's items. Points off an item's file count as 0."""
    result = np.zeros(xs.shape)
    for item in items:
        with rasterio.open(href(item, key)) as dataset:
            band = dataset.read(1)
            x, y = to_crs_from(crs, href(item, key), xs.ravel(), ys.ravel())
            rows, cols = rasterio.transform.rowcol(dataset.transform, x, y, op=np.floor)
        rows, cols = np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)
        inside = (rows >= 0) & (rows < band.shape[0]) & (cols >= 0) & (cols < band.shape[1])
        values = np.zeros(rows.shape)
        values[inside] = band[rows[inside], cols[inside]]
        result = np.where(result == 0, values.reshape(xs.shape), result)
    return result
