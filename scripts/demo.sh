#!/usr/bin/env bash
# The main job on built-in sample data, the way a user runs it: the plugin installed
# from the zip that `make package` builds, run by QGIS's own qgis_process.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/demo-output

rm -rf "$out/plugins" "$out/profile"
mkdir -p "$out/plugins" "$out/profile"
zip=$(.venv/bin/python scripts/package.py --out "$out")
.venv/bin/python -m zipfile -e "$zip" "$out/plugins"
.venv/bin/python scripts/make_sample_raster.py "$out/sample_dem.tif" >/dev/null

# As a user has it: no PYTHONPATH; the engine in its own environment, set up by the
# plugin (sits:setupengine) the first time, then reused.
unset PYTHONPATH SITS_ENGINE_PYTHON
export QGIS_PLUGINPATH=$out/plugins QGIS_CUSTOM_CONFIG_PATH=$out/profile
export QT_QPA_PLATFORM=offscreen
qp() { /usr/bin/qgis_process.bin "$@" 2> >(grep -v -e XDG_RUNTIME_DIR -e '^$' >&2); }
qp plugins enable sits_plugin >/dev/null
engine=$out/engine
if [ ! -f "$engine"/py*/sits-engine.json ] || ! cmp -s <(grep -v '^#' sits_qgis/environment/engine.lock) "$engine/lock.txt"; then
  echo "== Setting up the engine environment in $engine (sits:setupengine, once)"
  qp run sits:setupengine -- FOLDER="$engine" | sed -n '/^Results/,$p'
  grep -v '^#' sits_qgis/environment/engine.lock > "$engine/lock.txt"
else
  qp run sits:setupengine -- EXISTING_PYTHON="$(ls "$engine"/py*/bin/python)" >/dev/null
fi

echo "== Tiled raster statistics of $out/sample_dem.tif (band 1, chunk 256, local worker processes)"
qp run sits:rasterstatistics -- \
  INPUT="$out/sample_dem.tif" BAND=1 CHUNK_SIZE=256 OUTPUT_TILES="$out/sample_dem_tiles.gpkg"
echo "== Tile layer with per-tile statistics: $out/sample_dem_tiles.gpkg"

echo "== Tiled raster filter: gaussian, sigma 2 pixels, chunk 256"
qp run sits:rasterfilter -- INPUT="$out/sample_dem.tif" BAND=1 FILTER=4 SIGMA=2 \
  CHUNK_SIZE=256 OUTPUT="$out/sample_dem_gaussian.tif" | sed -n '/^Results/,$p'
echo "== Filtered raster: $out/sample_dem_gaussian.tif"

echo "== Time series: the SITS tutorial case on a generated catalogue served on 127.0.0.1"
.venv/bin/python scripts/demo_timeseries.py "$out"
