"""The statistics of a raster band as a person reads them: an HTML table.

Processing shows an algorithm's numeric outputs only as a Python dictionary at the end
of its log, each float with its 16 or 17 digits. The numbers stay exact in the outputs
(for models, scripts and ``qgis_process``); this table, which the dialog opens in its
Results Viewer, shows them rounded, counts with thousands separators.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Significant digits shown (the outputs keep every digit).
DIGITS = 6
#: From here on, decimals say nothing a person reads: whole numbers with separators.
WHOLE_FROM = 10.0**DIGITS


def shown(value: Any) -> str:
    """A statistic as the table shows it: ``None`` (no valid pixel) as "none", whole
    counts with separators, others to ``DIGITS`` significant digits."""
    if value is None:
        return "none"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= WHOLE_FROM:
        return f"{value:,.0f}"
    return f"{value:,.{DIGITS}g}"


def statistics_html(title: str, rows: Iterable[tuple[str, str, Any]]) -> str:
    """A page with ``title`` and one table row per (description, output name, value)."""
    cells = "\n".join(
        f"<tr><td>{html.escape(description)}</td><td><code>{html.escape(name)}</code></td>"
        f'<td class="n">{html.escape(shown(value))}</td></tr>'
        for description, name, value in rows
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #bbb; padding: 3px 8px; }}
th {{ background: #eee; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style></head>
<body>
<h3>{html.escape(title)}</h3>
<table>
<tr><th>Statistic</th><th>Output</th><th>Value</th></tr>
{cells}
</table>
<p>Rounded to {DIGITS} significant digits for reading; the algorithm's outputs hold the
exact values.</p>
</body></html>
"""


def write_statistics_html(path: str, title: str, rows: Iterable[tuple[str, str, Any]]) -> None:
    """Write the table to ``path`` (UTF-8)."""
    Path(path).write_text(statistics_html(title, rows), encoding="utf-8")
