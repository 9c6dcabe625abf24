"""The statistics are the same float64 numbers, bit for bit, on numpy 1.26, 2.2 and 2.4.

The matrix (``make test-all``) runs this on Debian 12 (numpy 1.26), Debian 13 (2.2) and
sid (2.4). Each run checks the tiled statistics against numpy on the whole band in this
numpy (the oracle of ``conftest.numpy_statistics``) and against the numbers recorded on
numpy 1.26.4 in ``data/numpy_statistics.json``: a numpy release that changed a result
(promotion rules, quantile interpolation) fails here, naming the statistic and version.
Record again, after checking why a number moved: ``python tests/test_numpy_versions.py``.

The rasters are made by integer arithmetic, not a random generator, whose streams numpy
does not promise to keep between releases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_matches_numpy, numpy_statistics, valid_values, write_raster

from sits_qgis.backend import Backend, BackendConfig, BackendMode
from sits_qgis.tiling import raster_statistics
from sits_qgis.tiling.brackets import sample_stride

RECORDED = Path(__file__).parent / "data" / "numpy_statistics.json"
#: name: (dtype, shape, nodata); the large ones go through the sampled brackets.
CASES = {
    "float32 with nodata": ("float32", (301, 517), -9999.0),
    "float32 over a million pixels": ("float32", (1100, 1000), None),
    "int16 with nodata": ("int16", (433, 251), -32768),
    "int16 over a million pixels": ("int16", (1100, 1000), None),
    "uint8": ("uint8", (200, 300), None),
    "float64": ("float64", (317, 290), None),
}


def _raster(dtype: str, shape: tuple[int, int], nodata: float | None) -> np.ndarray:
    """Scattered values from a multiplicative hash of the pixel index, nodata every 37th."""
    index = np.arange(shape[0] * shape[1], dtype=np.uint64)
    spread = (index * np.uint64(2654435761) + np.uint64(12345)) % np.uint64(1 << 32)
    if dtype.startswith("float"):
        data = (spread % np.uint64(200003)).astype(np.float64) / 97.0 - 700.0
    elif dtype == "int16":
        data = (spread % np.uint64(60001)).astype(np.int64) - 30000
    else:
        data = spread % np.uint64(256)
    data = data.astype(dtype).reshape(shape)
    if nodata is not None:
        data.flat[::37] = nodata
    return data


def _statistics(name: str, folder: Path) -> tuple[dict, dict]:
    """The tiled statistics of case ``name`` and numpy's own on the whole band."""
    dtype, shape, nodata = CASES[name]
    data = _raster(dtype, shape, nodata)
    path = write_raster(folder / "r.tif", data, nodata, block=128)
    backend = Backend(BackendConfig(mode=BackendMode.SEQUENTIAL, workers=1))
    result = raster_statistics(str(path), 1, 256, backend=backend)
    return dict(result.values), numpy_statistics(valid_values(data, nodata))


def _as_recorded(values: dict) -> dict:
    """Floats as their exact hexadecimal form, so the file keeps every bit."""
    return {k: v.hex() if isinstance(v, float) else v for k, v in sorted(values.items())}


def test_cases_cover_both_paths():
    """Small cases take numpy's own path, the large ones the sampled brackets."""
    strides = {sample_stride(shape[0] * shape[1]) for _, shape, _ in CASES.values()}
    assert strides == {1, 2}


@pytest.mark.parametrize("name", list(CASES))
def test_statistics_equal_numpy_and_the_numbers_recorded_on_numpy_1(name, tmp_path):
    tiled, oracle = _statistics(name, tmp_path)
    assert_matches_numpy(tiled, oracle)
    recorded = json.loads(RECORDED.read_text())[name]
    now = _as_recorded(tiled)
    moved = {k: (recorded[k], now[k]) for k in recorded if recorded[k] != now[k]}
    assert not moved, f"numpy {np.__version__} changed (recorded, now): {moved}"


def _record() -> None:
    """Write the numbers of this numpy (1.26.4 when they were recorded)."""
    import tempfile

    recorded = {"numpy": np.__version__}
    for name in CASES:
        with tempfile.TemporaryDirectory() as folder:
            recorded[name] = _as_recorded(_statistics(name, Path(folder))[0])
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(json.dumps(recorded, indent=1) + "\n")


if __name__ == "__main__":
    _record()
