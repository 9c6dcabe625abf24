"""What a time-series run is asked to do, as plain picklable values.

The Processing algorithms validate their parameters into these objects; workers get
them with each feature. Nothing here holds credentials except ``headers``, which is
never written to any output.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

from ..choices import AUTO_MASK_BAND
from ..redact import shown_url
from ..stac.client import DEFAULT_HTTP, HttpSettings
from .blockcache import CacheSettings

#: Dates whose masked fraction is above this are dropped (SITS's default).
DEFAULT_MAX_MASKED = 0.5


class GapFill(enum.IntEnum):
    """How missing values are filled along time (the GAPFILL enum's order)."""

    NONE = 0
    LINEAR = 1
    NEAREST = 2


class CubeMode(str, enum.Enum):
    """SITS's two cube geometries, valued as the cubes' file names and provenance say
    them (``choices.CUBE_MODES`` lists them in the MODE parameter's order)."""

    IMAGE = "image"
    PATCH = "patch"


class TableKind(str, enum.Enum):
    """What a table's rows hold: a point's ``pixel`` values, or an ``area``'s zonal
    statistics (columns ``<name>_<statistic>``). Valued as their words, like CubeMode,
    since both are kinds of read target (``pixel_grid.Target``)."""

    PIXEL = "pixel"
    AREA = "area"


class Statistic(enum.IntEnum):
    """Zonal statistics over the pixels of an area (the STATISTICS enum's order)."""

    MEAN = 0
    MEDIAN = 1
    STD = 2
    MIN = 3
    MAX = 4
    COUNT = 5

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class SeriesOptions:
    """Search, grid, mask, gap filling and indices: shared by tables and cubes."""

    stac_url: str
    collection: str
    bands: tuple[str, ...]
    start: date
    end: date
    max_cloud: float = 100.0
    resolution: float = 0.0
    crs: str = ""
    #: ``auto``: the collection's mask (``defaults.choose_mask``); empty: no mask.
    mask_band: str = AUTO_MASK_BAND
    mask_values: tuple[int, ...] = ()
    mask_bits: tuple[int, ...] = ()
    max_masked: float = DEFAULT_MAX_MASKED
    gapfill: GapFill = GapFill.NONE
    indices: tuple[str, ...] = ()
    harmonize: bool = True
    #: Bands as physical values (scale and offset of ``raster:bands`` applied, float32)
    #: instead of the digital numbers stored; indices always use physical values.
    physical: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: AWS credentials for ``s3://`` assets (GDAL's option names), from AUTHCFG.
    s3: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: Hosts of image files that also get the ``headers`` (the catalogue's own host and
    #: its profile's always do).
    credential_hosts: tuple[str, ...] = ()
    #: Whether assets whose address is a local file or a GDAL path may be read.
    local_files: bool = False
    http: HttpSettings = DEFAULT_HTTP
    #: The on-disk block cache of image files, if the user keeps one.
    block_cache: CacheSettings | None = None

    def provenance(self) -> dict[str, object]:
        """The options as written into outputs: everything except the credentials."""
        return {
            "stac_url": shown_url(self.stac_url),
            "collection": self.collection,
            "bands": list(self.bands),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "max_cloud": self.max_cloud,
            "resolution": self.resolution,
            "crs": self.crs,
            "mask_band": self.mask_band,
            "mask_values": list(self.mask_values),
            "mask_bits": list(self.mask_bits),
            "max_masked": self.max_masked,
            "gapfill": self.gapfill.name.lower(),
            "indices": list(self.indices),
            "harmonize": self.harmonize,
            "values": "physical" if self.physical else "stored",
        }


@dataclass(frozen=True)
class TableOptions:
    """Per-feature values (point pixel) or zonal statistics (areas)."""

    buffer: float = 0.0
    statistics: tuple[Statistic, ...] = (Statistic.MEAN,)


@dataclass(frozen=True)
class CubeOptions:
    """SITS's image or patch cubes, written as netCDF into ``folder``."""

    folder: str
    mode: CubeMode = CubeMode.PATCH
    patch_x: int = 64
    patch_y: int = 64
    buffer: float = 0.0
    label_field: str = ""
