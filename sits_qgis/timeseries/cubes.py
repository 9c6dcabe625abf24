"""One feature's cube as a CF-compliant netCDF file, written by the worker itself.

Bands and indices are variables on (time, y, x) with a ``spatial_ref`` grid mapping
(CRS WKT and CF parameters from pyproj), so GDAL, QGIS and xarray place the cube on the
map. Provenance attributes say which catalogue, collection, items and parameters made
it; credentials are never among them. The file appears under its final name only
once complete.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..partials import partial_name
from ..wording import plural
from .load import FeatureJob, LoadedImages, outcomes_of_batch
from .problems import FeatureProblem, problem_message
from .series import CleanSeries, SeriesSpec, clean_series
from .status import STATUS_ERROR, STATUS_NO_DATA, STATUS_OK

LABEL_NODATA = -1


@dataclass(frozen=True)
class CubeJob:
    """Where to write one cube, what to write in its attributes, and its label shapes."""

    path: str
    provenance: dict[str, Any]
    labels: tuple[tuple[bytes, float], ...] = ()


@dataclass
class CubeOutcome:
    """The file written for one feature, or why there is none."""

    feature_id: str
    path: str = ""
    status: str = STATUS_OK
    message: str = ""
    dates: int = 0
    shape: tuple[int, int] = (0, 0)
    items: list[str] = field(default_factory=list)


def _grid_mapping(crs: Any) -> dict[str, Any]:
    from pyproj import CRS

    attrs = CRS.from_user_input(str(crs)).to_cf()
    attrs["spatial_ref"] = attrs["crs_wkt"]  # GDAL's netCDF driver reads this name
    return attrs


def _label_raster(job: FeatureJob, labels: tuple[tuple[bytes, float], ...]) -> np.ndarray:
    """Class values burnt on the cube's grid (pixel centres inside), -1 elsewhere."""
    import shapely
    from rasterio.features import rasterize

    geobox = job.target.geobox
    shapes = [(shapely.from_wkb(wkb), value) for wkb, value in labels]
    return rasterize(
        shapes, out_shape=geobox.shape, transform=geobox.affine, fill=LABEL_NODATA, dtype="int32"
    )


def _axis(geobox: Any, name: str) -> Any:
    """The x or y coordinate of a geobox with its CF attributes."""
    import xarray as xr

    projected = geobox.crs.projected
    geographic = {"x": ("longitude", "degrees_east"), "y": ("latitude", "degrees_north")}
    standard_name, units = (f"projection_{name}_coordinate", "m") if projected else geographic[name]
    attrs = {"standard_name": standard_name, "units": units, "axis": name.upper()}
    return xr.DataArray(geobox.coords[name].values, dims=name, attrs=attrs)


def cube_dataset(job: FeatureJob, series: CleanSeries, spec: SeriesSpec, cube: CubeJob) -> Any:
    """The xarray Dataset of one cube, with CF attributes."""
    import xarray as xr

    geobox = job.target.geobox
    x, y = (_axis(geobox, name) for name in ("x", "y"))
    variables: dict[str, Any] = {}
    for name, values in series.variables.items():
        asset = spec.outputs.get(name)
        attrs = {"grid_mapping": "spatial_ref", "long_name": name}
        if asset is not None:
            attrs["stac_asset"] = asset
            scale, offset = spec.conversions.get(asset, (1.0, 0.0))
            if spec.physical:
                attrs["values"] = "physical (scale and offset of the catalogue applied)"
            else:  # informative only: not CF's scale_factor, so no reader applies it
                attrs |= {"physical_scale": scale, "physical_offset": offset}
        else:
            attrs["long_name"] = f"{name} spectral index (Awesome Spectral Indices)"
        variables[name] = (("time", "y", "x"), values, attrs)
    variables["valid_fraction"] = (
        ("time",),
        series.valid_fraction.astype(np.float32),
        {"long_name": "fraction of the cube's pixels not masked on this date"},
    )
    if cube.labels:
        variables["label"] = (
            ("y", "x"),
            _label_raster(job, cube.labels),
            {"grid_mapping": "spatial_ref", "long_name": "class label", "_FillValue": LABEL_NODATA},
        )
    dataset = xr.Dataset(
        variables,
        coords={
            "time": (
                "time",
                # to the second, as the table dates its rows: the Temporal Controller
                # then steps a series layer and the cubes on the same instants (a cube
                # dated 10:46:19.024 drew nothing on a frame starting at 10:46:19)
                series.times.astype("datetime64[s]").astype("datetime64[ns]"),
                {"standard_name": "time", "axis": "T"},
            ),
            "y": y,
            "x": x,
            "spatial_ref": ((), np.int32(0), _grid_mapping(geobox.crs)),
        },
    )
    items = sorted({i for ids in series.item_ids for i in ids})
    dataset.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Satellite image time series of feature {job.feature_id}",
        "source": f"{cube.provenance.get('collection')} from {cube.provenance.get('stac_url')}",
        "history": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} written by sits_qgis",
        "feature_id": job.feature_id,
        "stac_items": " ".join(items),
        "parameters": json.dumps(cube.provenance, sort_keys=True),
    }
    return dataset


#: zlib level of the cubes' variables. Measured on a tutorial image cube (55 dates,
#: 4 bands, 113 x 112): level 1 is 11 times smaller than no compression for 0.09 s of
#: CPU; level 4 is a fifth smaller again for 0.14 s, a sixth of a whole run's CPU.
ZLIB_LEVEL = 1


def write_netcdf(dataset: Any, path: str) -> None:
    """Write compressed, to a temporary name in the same folder, then rename."""
    target = Path(path)
    partial = partial_name(target)
    encoding: dict[str, dict[str, Any]] = {
        name: {"zlib": True, "complevel": ZLIB_LEVEL}
        for name, variable in dataset.data_vars.items()
        if variable.ndim
    }
    for name, variable in dataset.data_vars.items():
        if variable.dtype.kind == "f":
            encoding[name]["_FillValue"] = np.float32(np.nan)
    # seconds: QGIS's mesh reader (MDAL), which opens a cube as a temporal layer,
    # misreads times given in milliseconds
    encoding["time"] = {
        "units": "seconds since 1970-01-01 00:00:00",
        "calendar": "standard",
        "dtype": "float64",
    }
    try:
        dataset.to_netcdf(partial, engine="netcdf4", encoding=encoding)
        os.replace(partial, target)
    except (OSError, RuntimeError) as exc:
        # netCDF-C reports a full disk in its own words ("Permission denied", "HDF
        # error"): the free space says what happened
        free = shutil.disk_usage(target.parent).free
        if getattr(exc, "errno", None) == errno.ENOSPC or free < dataset.nbytes:
            raise FeatureProblem(
                f"the disk of the output folder is full ({free / 2**20:.1f} MiB free; this"
                f" cube needs up to {dataset.nbytes / 2**20:.1f} MiB): free some space or"
                " choose another OUTPUT_FOLDER, then run again with RESUME"
            ) from None
        raise
    finally:
        partial.unlink(missing_ok=True)


def write_cubes(
    jobs: Sequence[FeatureJob], spec: SeriesSpec, cubes: Sequence[CubeJob]
) -> list[CubeOutcome]:
    """Worker entry point: the cube files of features that share their images. Never
    raises for the features' own problems: they become their statuses."""
    return outcomes_of_batch(
        jobs,
        spec.mask_rule,
        lambda n, job, images: _write_cube(job, images, spec, cubes[n]),
        lambda feature_id, message: CubeOutcome(feature_id, status=STATUS_ERROR, message=message),
    )


def _write_cube(
    job: FeatureJob, loaded: LoadedImages, spec: SeriesSpec, cube: CubeJob
) -> CubeOutcome:
    if len(loaded.times) == 0:
        return CubeOutcome(job.feature_id, status=STATUS_NO_DATA, message="no image")
    try:
        series = clean_series(loaded, job, spec, drop_dates=True)
        if len(series.times) == 0:
            return CubeOutcome(
                job.feature_id,
                status=STATUS_NO_DATA,
                message=f"every date has more than {spec.max_masked:.0%} of its pixels masked",
            )
        write_netcdf(cube_dataset(job, series, spec, cube), cube.path)
    except Exception as exc:  # one feature's failure must not stop the others
        return CubeOutcome(job.feature_id, status=STATUS_ERROR, message=problem_message(exc))
    unread = [why for why in loaded.failed if why]
    return CubeOutcome(
        job.feature_id,
        cube.path,
        dates=len(series.times),
        shape=tuple(job.target.geobox.shape),
        items=sorted({i for ids in series.item_ids for i in ids}),
        message=(
            f"{plural(len(unread), 'date')} left out because a file could not be read; the first:"
            f" {unread[0]}"
            if unread
            else ""
        ),
    )
