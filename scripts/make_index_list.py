"""Write ``sits_qgis/spectral_indices.json``: spyndex's index catalogue as plain data, for
the dialogs (QGIS's process does not import spyndex). ``make package`` runs it; a test
checks that the shipped file equals spyndex's catalogue."""

from __future__ import annotations

import json

from sits_qgis.choices import INDICES_FILE


def catalogue() -> dict[str, dict[str, object]]:
    """Every index of spyndex, by name, with what the dialog shows."""
    import spyndex

    return {
        name: {
            "long_name": index.long_name,
            "formula": index.formula,
            "reference": index.reference,
            "bands": list(index.bands),
        }
        for name, index in sorted(spyndex.indices.items())
    }


if __name__ == "__main__":
    INDICES_FILE.write_text(
        json.dumps(catalogue(), indent=0, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(INDICES_FILE)
