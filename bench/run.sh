#!/usr/bin/env bash
# The benchmarks end to end: GeoUtils venv, rasters (cached), statistics, filters, then
# time series (SITS venv, generated catalogue served on 127.0.0.1, ours vs SITS), then
# the cost of the engine's process boundary (in process vs through the engine process),
# QGIS's memory over large runs, and time series at real scale (full-size Sentinel-2
# files behind a 40 ms, 200 Mbit/s link: ours, with and without the block cache, SITS
# and odc-stac; the 24 sites' catalogue takes about 24 minutes to generate once).
# Extra arguments go to bench_statistics.py (e.g. --sizes "256 MiB" --repeat 1);
# BENCH_FILTER_ARGS to bench_filter.py (e.g. BENCH_FILTER_ARGS='--sizes "1 GiB"'),
# BENCH_REALSCALE_ARGS to bench_realscale.py (e.g. BENCH_REALSCALE_ARGS='--sites 2').
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
eval "realscale_args=(${BENCH_REALSCALE_ARGS:-})"
"$PYTHON" "$HERE/bench_realscale.py" "${realscale_args[@]}" || status=$?
exit "$status"
