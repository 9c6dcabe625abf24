"""The pixel grid each feature is read on.

By default a feature is read on the native grid of the images that cover it (their
CRS, the finest resolution of the bands asked for, their pixel origin), with nearest
resampling: a point then gets the original value of the pixel that contains it, and a
20 m band read at 10 m repeats its pixels exactly. A CRS or a resolution given by the
user replaces that grid by one anchored on multiples of the resolution.

Catalogues state the grid in several ways (the projection extension): the CRS as
``proj:code`` (v2), ``proj:epsg`` (v1), ``proj:wkt2`` or ``proj:projjson`` (MODIS'
sinusoidal grid has no EPSG code), the pixel grid as ``proj:transform``, each at the
asset or the item level; or not at all, and then the file's own header says it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import SitsError
from .options import CubeMode, TableKind


@dataclass(frozen=True)
class Grid:
    """A CRS, a square pixel size and an origin that pixel edges are aligned to."""

    crs: str
    resolution: float
    origin: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Target:
    """Where to read a feature: a geobox, and the pixels of it that belong to the zone.

    ``zone_wkb`` (target CRS) selects the pixels whose centres fall inside it; ``None``
    means every pixel of the geobox.
    """

    kind: TableKind | CubeMode
    geobox: Any
    zone_wkb: bytes | None = None


#: A file's header, read when the catalogue does not state the grid: its CRS (WKT) and
#: GDAL geotransform, for (item, asset).
Header = Callable[[Mapping[str, Any], str], tuple[str, tuple[float, ...]]]


def declared_crs(fields: Mapping[str, Any]) -> str | None:
    """The CRS the projection-extension fields of an item's properties or of an asset
    declare, as text pyproj and odc-geo read (``EPSG:n``, WKT or PROJJSON)."""
    if fields.get("proj:code"):
        return str(fields["proj:code"])
    if fields.get("proj:epsg"):
        return f"EPSG:{int(fields['proj:epsg'])}"
    if fields.get("proj:wkt2"):
        return str(fields["proj:wkt2"])
    if fields.get("proj:projjson"):
        return json.dumps(fields["proj:projjson"], sort_keys=True)
    return None


def item_crs(item: Mapping[str, Any]) -> str | None:
    """The item's CRS from the projection extension (item or asset level), or None."""
    sources = [item.get("properties", {}), *list(item.get("assets", {}).values())]
    return next((code for source in sources if (code := declared_crs(source))), None)


def asset_crs(item: Mapping[str, Any], asset: str) -> str | None:
    """One asset's CRS: the asset's own statement first, then the item's."""
    own = item.get("assets", {}).get(asset, {})
    return declared_crs(own) or declared_crs(item.get("properties", {}))


def declared_transform(item: Mapping[str, Any], asset: str) -> tuple[float, ...] | None:
    """The asset's ``proj:transform`` (its six affine terms), the asset's own first, then
    the item's (an item-level transform holds for its assets without one)."""
    for source in (item.get("assets", {}).get(asset, {}), item.get("properties", {})):
        transform = source.get("proj:transform")
        if transform and len(transform) >= 6:
            return tuple(float(v) for v in transform[:6])
    return None


def crs_label(crs: str | None) -> str:
    """A short name of a CRS for tables: its authority code when it has one (a WKT of
    EPSG:32631 gives "EPSG:32631"), else the name the definition gives it."""
    if not crs:
        return ""
    if crs.upper().startswith(("EPSG:", "ESRI:", "IAU_")):
        return crs
    from pyproj import CRS

    try:
        parsed = CRS.from_user_input(crs)
    except Exception:
        return crs[:60]
    code = parsed.to_authority(min_confidence=100)
    return ":".join(code) if code else parsed.name


def utm_crs(lon: float, lat: float) -> str:
    """The UTM zone of a position, as the Sentinel-2 tiling would give it."""
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def asset_grids(
    item: Mapping[str, Any], assets: Sequence[str], header: Header | None = None
) -> dict[str, tuple[str, tuple[float, ...]]]:
    """Each asset's (CRS, affine terms): as the catalogue states them, or else from the
    file's header when ``header`` is given (assets the item lacks are left out)."""
    grids = {}
    for asset in assets:
        if asset not in item.get("assets", {}):
            continue
        crs, transform = asset_crs(item, asset), declared_transform(item, asset)
        if (crs is None or transform is None) and header is not None:
            file_crs, geotransform = header(item, asset)
            gx, gdx, gdy, gy, gdx2, gdy2 = geotransform  # GDAL's order
            crs = crs or file_crs
            transform = transform or (gdx, gdy, gx, gdx2, gdy2, gy)
        if crs is not None and transform is not None:
            grids[asset] = (crs, transform)
    return grids


def native_grid(
    items: Sequence[Mapping[str, Any]],
    assets: Sequence[str],
    lon: float,
    lat: float,
    header: Header | None = None,
) -> Grid:
    """The grid of the items covering a feature: their most common CRS (the feature's own
    UTM zone on a tie), the finest resolution of ``assets`` in it and its pixel origin.
    What the catalogue does not state is read from the files' headers (``header``)."""
    described = [asset_grids(item, assets, header) for item in items]
    counts = Counter(crs for grids in described for crs in {c for c, _ in grids.values()})
    if not counts:
        raise ValueError(
            "the items state no grid for the bands (proj:code, proj:epsg, proj:wkt2 or"
            " proj:projjson, and proj:transform); set CRS and RESOLUTION"
        )
    own = utm_crs(lon, lat)
    crs = max(counts, key=lambda c: (counts[c], c == own))
    best: tuple[float, float, float] | None = None
    for grids in described:
        for grid_crs, transform in grids.values():
            if grid_crs == crs and (best is None or abs(transform[0]) < best[0]):
                best = (abs(transform[0]), transform[2], transform[5])
        if best is not None:
            break
    if best is None:  # never: the chosen CRS came from a described asset
        raise ValueError("the items state no pixel grid for the bands; set RESOLUTION")
    return Grid(crs, best[0], (best[1], best[2]))


def chosen_grid(
    items: Sequence[Mapping[str, Any]],
    assets: Sequence[str],
    lon: float,
    lat: float,
    crs: str,
    resolution: float,
    header: Header | None = None,
) -> Grid:
    """The native grid, with the user's CRS and/or resolution when given."""
    if crs and resolution:
        return Grid(crs, resolution)
    native = native_grid(items, assets, lon, lat, header)
    if crs:
        return Grid(crs, native.resolution)
    if resolution:
        return Grid(native.crs, resolution, native.origin)
    return native


@lru_cache(maxsize=64)
def _to_crs(crs: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def to_grid_crs(geometry: Any, grid: Grid) -> Any:
    """A shapely geometry from EPSG:4326 to the grid's CRS."""
    import shapely

    from .features import transform_xy

    transformer = _to_crs(grid.crs)
    return shapely.transform(geometry, lambda xy: transform_xy(transformer, xy))


def _geobox(grid: Grid, col0: int, row0: int, cols: int, rows: int) -> Any:
    """A geobox of ``rows`` x ``cols`` pixels starting at grid cell (col0, row0)."""
    from affine import Affine
    from odc.geo.geobox import GeoBox

    res, (ox, oy) = grid.resolution, grid.origin
    affine = Affine(res, 0.0, ox + col0 * res, 0.0, -res, oy - row0 * res)
    return GeoBox((rows, cols), affine, grid.crs)


def _cell(grid: Grid, x: float, y: float) -> tuple[float, float]:
    """Fractional (column, row) of a position on the grid."""
    return (x - grid.origin[0]) / grid.resolution, (grid.origin[1] - y) / grid.resolution


def envelope_geobox(grid: Grid, geometry: Any) -> Any:
    """The geometry's envelope grown outwards to whole pixels (SITS's ``image``)."""
    x0, y0, x1, y1 = geometry.bounds
    c0, r0 = _cell(grid, x0, y1)
    c1, r1 = _cell(grid, x1, y0)
    col0, row0 = math.floor(c0), math.floor(r0)
    cols = max(math.ceil(c1) - col0, 1)
    rows = max(math.ceil(r1) - row0, 1)
    return _geobox(grid, col0, row0, cols, rows)


def pixel_target(grid: Grid, point: Any) -> Target:
    """The single pixel that contains the point."""
    col, row = _cell(grid, point.x, point.y)
    return Target(TableKind.PIXEL, _geobox(grid, math.floor(col), math.floor(row), 1, 1))


def area_target(grid: Grid, area: Any) -> Target:
    """The pixels whose centres fall inside the area, within its envelope."""
    import shapely

    return Target(TableKind.AREA, envelope_geobox(grid, area), shapely.to_wkb(area))


def image_target(grid: Grid, geometry: Any) -> Target:
    """Every pixel of the geometry's envelope (SITS's ``image``)."""
    return Target(CubeMode.IMAGE, envelope_geobox(grid, geometry))


def patch_target(grid: Grid, geometry: Any, cols: int, rows: int) -> Target:
    """Exactly ``cols`` x ``rows`` pixels centred on the envelope's centre (SITS's ``patch``)."""
    x0, y0, x1, y1 = geometry.bounds
    col, row = _cell(grid, (x0 + x1) / 2, (y0 + y1) / 2)
    geobox = _geobox(grid, round(col - cols / 2), round(row - rows / 2), cols, rows)
    return Target(CubeMode.PATCH, geobox)


def check_buffer_crs(crs: str, buffer: float) -> None:
    """A buffer in metres needs a projected grid CRS."""
    if not crs or buffer <= 0:
        return
    from pyproj import CRS

    if not CRS.from_user_input(crs).is_projected:
        raise SitsError(
            f"BUFFER is in metres but the CRS {crs} is geographic: leave CRS empty (the"
            " images' UTM grid) or give a projected CRS.",
            "BUFFER",
        )


def check_crs(crs: str, resolution: float = 0.0) -> None:
    """The user's CRS text must be readable; a CRS in degrees needs a RESOLUTION in
    degrees (the images' native resolution is in metres: 10 m would become 10 degrees,
    and every pixel of every feature would be masked)."""
    if not crs:
        return
    from pyproj import CRS

    try:
        parsed = CRS.from_user_input(crs)
    except Exception:
        raise SitsError(f"'{crs}' is not a CRS (give e.g. EPSG:32631).", "CRS") from None
    if parsed.is_geographic and resolution <= 0:
        raise SitsError(
            f"The grid CRS {crs} is in degrees, and the images' native resolution is in"
            " metres: give RESOLUTION in degrees (e.g. 0.0001, about 10 m), or a CRS in"
            " metres, or leave CRS empty for the images' own grid.",
            "RESOLUTION",
        )


def zone_pixels(target: Target) -> Any:
    """The pixels of the target's geobox whose centres fall in its zone (all without one)."""
    import numpy as np

    geobox = target.geobox
    if target.zone_wkb is None:
        return np.ones(geobox.shape, dtype=bool)
    import shapely
    from rasterio.features import geometry_mask

    from .problems import FeatureProblem

    zone = geometry_mask(
        [shapely.from_wkb(target.zone_wkb)],
        out_shape=geobox.shape,
        transform=geobox.affine,
        invert=True,
    )
    if not zone.any():
        raise FeatureProblem(
            f"no pixel centre falls inside the area at {abs(geobox.affine.a):g} m: use a"
            " finer RESOLUTION or a BUFFER"
        )
    return zone
