#!/usr/bin/env bash
# Create the SITS 0.7.5 reference environment (.bench-sits-venv) for the time-series
# benchmark (bench/sits_reference.py runs SITS's multiprocessing tutorial case with it).
#
# Why a separate venv: SITS pulls in dask, odc-stac, sktime, scikit-image, spyndex,
# planetary-computer, pandas 3..., which must not change the project's tested lock (nor
# GeoUtils' .bench-venv). Why without --system-site-packages: Debian's older python3-*
# packages would otherwise satisfy pip and leak in; rasterio's and netCDF4's wheels bring
# their own GDAL/HDF5, so nothing from Debian is needed.
# Versions are pinned by bench/sits_requirements.lock (a pip freeze of a plain
# 'pip install sits==0.7.5'); numpy 1.26.4 and rasterio 1.4.4 are the project's too.
# Set SITS_UNPINNED=1 to install 'sits==0.7.5' with whatever pip resolves instead.
# Idempotent: does nothing when the venv already imports what the benchmark uses.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="${BENCH_SITS_VENV:-$ROOT/.bench-sits-venv}"
LOCK="$HERE/sits_requirements.lock"
BASE_PYTHON=/usr/bin/python3  # Debian's interpreter, never the python3 first on PATH

check() {
    # What bench/sits_reference.py imports, and the versions it reports.
    (cd / && "$VENV/bin/python" - <<'EOF'
import warnings
warnings.filterwarnings("ignore")
import sys
import dask, netCDF4, odc.stac, pystac_client, rasterio, xarray
import sits
from sits import sits as s
assert sits.__version__ == "0.7.5", sits.__version__
assert hasattr(s, "Multiproc") and hasattr(s.StacAttack, "mask_conf")
print(
    f"sits {sits.__version__} ready in {sys.prefix}: python {sys.version.split()[0]}, "
    f"dask {dask.__version__}, odc-stac {odc.stac.__version__}, "
    f"pystac-client {pystac_client.__version__}, xarray {xarray.__version__}, "
    f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}), "
    f"netCDF4 {netCDF4.__version__}"
)
EOF
    )
}

if [ -x "$VENV/bin/python" ] && check 2>/dev/null; then
    exit 0
fi

echo "creating $VENV with SITS 0.7.5 ..."
rm -rf "$VENV"
"$BASE_PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if [ "${SITS_UNPINNED:-0}" = 1 ]; then
    "$VENV/bin/python" -m pip install --quiet "sits==0.7.5"
else
    "$VENV/bin/python" -m pip install --quiet -r "$LOCK"
fi
"$VENV/bin/python" -m pip check
check
