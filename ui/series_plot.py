"""Drawing series in the dock: one plot per value (reflectances in thousands and indices
from -1 to 1 do not share a scale), the features overlaid, and each date drawn as what
it is: an observation (filled dot), a gap-filled value (hollow dot, on the line) or a
masked date (grey cross at the foot of the plot, no value). The legend has a row of its
own above the plots, so it never covers a curve however many features there are.

Sizes are in inches at ``DPI``: the dock puts the canvas in a scroll area at this size,
so that three or four values stay readable instead of being squeezed into the dock.
"""

from __future__ import annotations

import math
from typing import Any

from .series_data import FeatureSeries

#: Dots per inch of the plot on screen (and of exports, whose size is chosen in pixels).
DPI = 100
#: Height of one value's plot, and of one row of the legend, in inches.
PLOT_HEIGHT_IN = 2.3
LEGEND_ROW_IN = 0.28
#: Legend entries per row.
LEGEND_COLUMNS = 3
#: The statuses the table writes for dates whose value came from gap filling, and for
#: masked dates (``sits_qgis.timeseries.status``; a plain copy because QGIS's process
#: must not import the engine's modules).
FILLED = "filled"
MASKED = "masked"
MASKED_COLOUR = "0.55"


def figure_height(values: int, series: int) -> float:
    """The figure's height for ``values`` plots and ``series`` features, in inches."""
    rows = math.ceil((series + 3) / LEGEND_COLUMNS)  # the features, then the three kinds
    return max(values, 1) * PLOT_HEIGHT_IN + rows * LEGEND_ROW_IN + 0.5


def draw(figure: Any, series: list[FeatureSeries], columns: list[str]) -> None:
    """Draw ``series`` for ``columns`` on an emptied ``figure``: the legend's row, then
    one plot per value."""
    from matplotlib.lines import Line2D

    figure.clear()
    if not columns:
        return
    legend_rows = math.ceil((len(series) + 3) / LEGEND_COLUMNS)
    grid = figure.add_gridspec(
        len(columns) + 1, 1,
        height_ratios=[legend_rows * LEGEND_ROW_IN] + [PLOT_HEIGHT_IN] * len(columns),
    )  # fmt: skip
    key = figure.add_subplot(grid[0])
    key.axis("off")
    plots = [figure.add_subplot(grid[n + 1]) for n in range(len(columns))]
    handles: list[Any] = []
    for number, one in enumerate(series):
        colour = f"C{number % 10}"
        handles.append(Line2D([], [], color=colour, marker="o", label=one.feature_id))
        for axes, column in zip(plots, columns, strict=True):
            _draw_one(axes, one, column, colour)
    for axes, column in zip(plots, columns, strict=True):
        axes.set_ylabel(column)
        axes.grid(True, alpha=0.3)
    if series:
        handles += [
            Line2D([], [], color="0.2", marker="o", linestyle="", label="observation"),
            Line2D([], [], color="0.2", marker="o", markerfacecolor="none", linestyle="",
                   label="gap-filled"),
            Line2D([], [], color=MASKED_COLOUR, marker="x", linestyle="", label="masked"),
        ]  # fmt: skip
        key.legend(handles=handles, loc="center", ncol=LEGEND_COLUMNS, fontsize="small",
                   frameon=False)  # fmt: skip
        figure.autofmt_xdate()


def _draw_one(axes: Any, one: FeatureSeries, column: str, colour: str) -> None:
    """One feature's value: the line through every value, then each kind of date."""
    values = one.values.get(column, [])
    status = one.status or [""] * len(one.dates)
    axes.plot(one.dates, values, color=colour, label=f"{one.feature_id} {column}")

    def kind(wanted: set[str]) -> tuple[list[Any], list[float]]:
        picked = [
            (when, value)
            for when, value, said in zip(one.dates, values, status, strict=True)
            if (said in wanted) and not math.isnan(value)
        ]
        return [p[0] for p in picked], [p[1] for p in picked]

    observed = kind({s for s in set(status) if s not in (FILLED, MASKED)})
    filled = kind({FILLED})
    axes.plot(*observed, color=colour, marker="o", markersize=4, linestyle="",
              label="_observation")  # fmt: skip
    axes.plot(*filled, color=colour, marker="o", markersize=5, markerfacecolor="none",
              linestyle="", label="_gap-filled")  # fmt: skip
    masked = [when for when, said in zip(one.dates, status, strict=True) if said == MASKED]
    axes.plot(masked, [0.04] * len(masked), color=MASKED_COLOUR, marker="x", linestyle="",
              transform=axes.get_xaxis_transform(), label="_masked")  # fmt: skip
