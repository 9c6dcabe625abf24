#!/usr/bin/env bash
# The statistics benchmark end to end: GeoUtils venv, rasters (cached), benchmark.
# Extra arguments go to bench_statistics.py (e.g. --sizes "256 MiB" --repeat 1).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="$ROOT/.venv/bin/python"  # the project venv (Debian's python), never PATH's python3

"$HERE/setup_geoutils.sh"
"$PYTHON" "$HERE/make_rasters.py"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$HERE/bench_statistics.py" "$@"
