#!/usr/bin/env bash
# Create the GeoUtils 0.2.5 reference environment (.bench-venv) for the benchmarks.
#
# Why a separate venv: GeoUtils pulls in rioxarray, scipy and pandas<3, which must not
# change the project's tested lock. Why without --system-site-packages: Debian's older
# python3-* packages (attrs 22.2, numpy 1.24, scipy 1.10...) would otherwise satisfy pip
# and leak in; rasterio's wheel brings its own GDAL, so Debian's osgeo is not needed.
# numpy stays at 1.26.4, the project's version, so both sides run the same numpy.
# Idempotent: does nothing when the venv already imports what the benchmark uses.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="${BENCH_VENV:-$ROOT/.bench-venv}"
LOCK="$HERE/requirements-geoutils.lock"
BASE_PYTHON=/usr/bin/python3  # Debian's interpreter, never the python3 first on PATH

check() {
    # The names the benchmark imports (their home in 0.2.5 is
    # geoutils/raster/distributed_computing/{multiproc,cluster}.py).
    (cd / && "$VENV/bin/python" - <<'EOF'
import geoutils
from geoutils.raster.distributed_computing import (
    ClusterGenerator,
    MultiprocConfig,
    map_multiproc_collect,
)
assert geoutils.__version__ == "0.2.5", geoutils.__version__
print(f"geoutils {geoutils.__version__} ready in", __import__("sys").prefix)
EOF
    )
}

if [ -x "$VENV/bin/python" ] && check 2>/dev/null; then
    exit 0
fi

echo "creating $VENV with GeoUtils 0.2.5 ..."
rm -rf "$VENV"
"$BASE_PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$LOCK"
check
