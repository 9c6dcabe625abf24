"""qgis-plugin-analyzer on the shipped plugin: no Qt6, metadata, obsolete-API or secret
finding may remain (``make lint``; run with the tools environment's Python).

The analyzer also reports style opinions (untranslated strings, docstrings, magic
numbers, threads outside QgsTask...); those are listed as counts, not failures: the
engine runs in its own process, where Python threads are the right tool, and the
plugin's strings are not translated yet. What blocks is what breaks on QGIS 4 or
on plugins.qgis.org.
"""

from __future__ import annotations

import json
import subprocess  # nosec B404
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from package import shipped_files  # noqa: E402  (the zip's own list of files)

#: Finding types that fail the lint: exact names, or prefixes ending in "_".
BLOCKING = (
    "QT6_",
    "METADATA_",
    "OBSOLETE_API",
    "OBSOLETE_VARIANT",
    "QGIS_LEGACY_IMPORT",
    "QGIS_PROTECTED_MEMBER",
    "PYQT5_IMPORT",
    "LEGACY_SIGNAL_SLOT",
    "MANDATORY_CLEANUP",
    "AWS_KEY",
    "GOOGLE_API_KEY",
    "TWILIO_KEY",
    "HARDCODED_SECRET",
    "GENERIC_SECRET",
    "B102",
    "B301",
    "B307",
    "B602",
    "B608",
)


def findings(report: object) -> list[dict]:
    """Every finding (a dict with file, line and type) anywhere in the JSON report."""
    found: dict[tuple, dict] = {}
    stack = [report]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if {"file", "line", "type"} <= node.keys():
                found[(node["file"], node["line"], node["type"])] = node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found.values(), key=lambda f: (f["file"], f["line"], f["type"]))


def blocking(kind: str) -> bool:
    return any(kind.startswith(b) if b.endswith("_") else kind == b for b in BLOCKING)


def main() -> int:
    analyzer = Path(sys.executable).with_name("qgis-analyzer")
    with tempfile.TemporaryDirectory() as folder:
        plugin = Path(folder) / "sits_plugin"
        for rel in shipped_files():
            target = plugin / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((ROOT / rel).read_bytes())
        # Our own analyzer, a fixed argument list, no shell.
        done = subprocess.run(  # nosec B603
            [str(analyzer), "analyze", str(plugin), "--json", "--no-cache", "--linters", "none",
             "--output", str(Path(folder) / "report")],
            capture_output=True, text=True, check=False, cwd=folder,
        )  # fmt: skip
        if done.returncode != 0 or not done.stdout.strip():
            print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
            print("qgis-analyzer failed to run")
            return 2
        every = findings(json.loads(done.stdout))
    failing = [f for f in every if blocking(f["type"])]
    others = Counter(f["type"] for f in every if not blocking(f["type"]))
    for f in failing:
        print(f"{f['file']}:{f['line']}: {f['type']} {f.get('message', '')}")
    print(
        f"qgis-analyzer: {len(failing)} blocking finding(s); not blocking: "
        + (", ".join(f"{k} {v}" for k, v in sorted(others.items())) or "none")
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
