"""Build the plugin zip that QGIS's "Install from ZIP" takes: dist/<plugin>-<version>.zip.

One top folder (the plugin's folder name) holding metadata.txt, the plugin, the
engine and the provider; never tests, caches or development files. Written by hand
rather than with qgis-plugin-ci because that tool needs a git tag and a tools venv,
and the rule here is short: an explicit list of what ships.
"""

from __future__ import annotations

import argparse
import configparser
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_NAME = "sits_plugin"
FILES = ("metadata.txt", "LICENSE", "README.md", "icon.svg", "__init__.py", "plugin.py")
PACKAGES = ("sits_qgis", "processing_provider", "ui")
SHIPPED_SUFFIXES = {".py", ".svg", ".png", ".ui", ".qml", ".model3", ".json", ".lock"}


def version() -> str:
    """The version metadata.txt declares (the single source of truth for the zip)."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]["version"]


def shipped_files() -> list[Path]:
    """Paths (relative to the repository) that go into the zip."""
    files = [Path(name) for name in FILES]
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if (
                path.is_file()
                and path.suffix in SHIPPED_SUFFIXES
                and "__pycache__" not in path.parts
            ):
                files.append(path.relative_to(ROOT))
    return files


def build(out_dir: Path) -> Path:
    """Write the zip into ``out_dir`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PLUGIN_NAME}-{version()}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in shipped_files():
            archive.write(ROOT / rel, f"{PLUGIN_NAME}/{rel.as_posix()}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder")
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
