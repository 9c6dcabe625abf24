#!/usr/bin/env bash
# `make test-all`: the whole suite on every QGIS we test, one after the other:
#   host    the machine's own QGIS (Debian 12: QGIS 3.22, Python 3.11, numpy 1.26)
#   trixie  Debian 13 in a chroot (QGIS 3.40 LTR, Python 3.13, numpy 2.2)
#   sid     Debian unstable in a chroot (QGIS 3.44 LTR, Python 3.14, numpy 2.4)
# Each chroot is built once by scripts/qgis_chroot.sh (as root; measured: 1.5 to 3 min
# and 2.2 GB, plus 1 GB of test environments)
# and kept in /var/cache/sits-qgis/chroots; its test environment (/opt/sits-venv in the
# chroot) is made by `make setup` from the same locks as the host's.
# SITS_TEST_SUITES="host trixie" picks suites. Results: test-results/<suite>.xml (JUnit),
# test-results/matrix.md (versions and counts, the README's table). Exit code: non-zero
# when any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUITES=${SITS_TEST_SUITES:-"host trixie sid"}
RESULTS=test-results
mkdir -p "$RESULTS"
failed=0

for suite in $SUITES; do
  echo "=== $suite"
  start=$(date +%s)
  if [ "$suite" = host ]; then
    make test PYTEST_ARGS="--junitxml=$RESULTS/$suite.xml"
    rc=$?
    .venv/bin/python scripts/versions.py > "$RESULTS/$suite.versions.json"
  else
    if ! bash scripts/qgis_chroot.sh build "$suite"; then
      echo "$suite: the chroot could not be built" >&2
      failed=1
      continue
    fi
    binds=(--bind "$ROOT:/src")
    # ../shared/data (the real rasters and layers some tests use) when this machine has it
    [ -d "$ROOT/../shared" ] && binds+=(--bind "$(cd "$ROOT/../shared" && pwd):/shared:ro")
    inside=(bash scripts/qgis_chroot.sh run "$suite" "${binds[@]}" -- env -C /src)
    "${inside[@]}" make VENV=/opt/sits-venv TOOLS=/opt/sits-tools test PYTEST_ARGS="--junitxml=$RESULTS/$suite.xml"
    rc=$?
    "${inside[@]}" /opt/sits-venv/bin/python scripts/versions.py > "$RESULTS/$suite.versions.json"
  fi
  echo "{\"suite\": \"$suite\", \"exit\": $rc, \"seconds\": $(( $(date +%s) - start ))}" \
    > "$RESULTS/$suite.run.json"
  [ "$rc" = 0 ] || failed=1
done

python3 - "$RESULTS" $SUITES <<'EOF'
"""The table of versions and results, from each suite's JUnit file and versions."""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

results, suites = Path(sys.argv[1]), sys.argv[2:]
rows = [
    "| Suite | System | QGIS | Qt | Python | numpy | GDAL | PROJ | Passed | Failed | Skipped | Time |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]
for suite in suites:
    try:
        v = json.loads((results / f"{suite}.versions.json").read_text())
        run = json.loads((results / f"{suite}.run.json").read_text())
        tests = ET.parse(results / f"{suite}.xml").getroot()
        tests = tests if tests.tag == "testsuite" else tests.find("testsuite")
    except (OSError, ValueError, ET.ParseError) as exc:
        rows.append(f"| {suite} | not run ({exc.__class__.__name__}) |" + " |" * 10)
        continue
    total, skipped = int(tests.get("tests")), int(tests.get("skipped"))
    failed = int(tests.get("failures")) + int(tests.get("errors"))
    rows.append(
        f"| {suite} | {v['system']} | {v['qgis'].split('-')[0]} | {v['qt']} | {v['python']}"
        f" | {v['numpy']} | {v['gdal']} | {v['proj']} | {total - failed - skipped}"
        f" | {failed} | {skipped} | {run['seconds'] // 60} min {run['seconds'] % 60} s |"
    )
table = "\n".join(rows) + "\n"
(results / "matrix.md").write_text(table)
print(table)
EOF
exit $failed
