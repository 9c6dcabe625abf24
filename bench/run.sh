#!/usr/bin/env bash
# The benchmarks end to end: GeoUtils venv, rasters (cached), statistics, filters, then
# time series (SITS venv, generated catalogue served on 127.0.0.1, ours vs SITS), then
# the cost of the engine's process boundary (in process vs through the engine process).
# Extra arguments go to bench_statistics.py (e.g. --sizes "256 MiB" --repeat 1);
# BENCH_FILTER_ARGS to bench_filter.py (e.g. BENCH_FILTER_ARGS='--sizes "1 GiB"').
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="$ROOT/.venv/bin/python"  # the project venv (Debian's python), never PATH's python3
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

"$HERE/setup_geoutils.sh"
"$PYTHON" "$HERE/make_rasters.py"
status=0
"$PYTHON" "$HERE/bench_statistics.py" "$@" || status=$?
eval "filter_args=(${BENCH_FILTER_ARGS:-})"
"$PYTHON" "$HERE/bench_filter.py" "${filter_args[@]}" || status=$?
"$HERE/setup_sits.sh" || status=$?
eval "timeseries_args=(${BENCH_TIMESERIES_ARGS:-})"
"$PYTHON" "$HERE/bench_timeseries.py" "${timeseries_args[@]}" || status=$?
"$PYTHON" "$HERE/bench_boundary.py" || status=$?
"$PYTHON" "$HERE/bench_qgis_memory.py" || status=$?
exit "$status"
