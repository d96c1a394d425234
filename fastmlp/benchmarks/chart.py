"""The benchmark chart: one small panel per group, each implementation's median time as a bar on a
log scale, labelled with its speed-up over the baseline, panels in a grid a page wide."""

from __future__ import annotations

import math
from typing import Any

from .report import Groups

COLUMNS = 4
PANEL_WIDTH_IN, BAR_HEIGHT_IN, PANEL_EXTRA_IN = 4.2, 0.24, 1.0


def plot(groups: Groups, baseline: str, path: str) -> None:
    """Write the chart of ``groups`` (median seconds per implementation) to ``path`` (PNG).

    Parameters
    ----------
    groups : dict of str to dict of str to float
        group → implementation → median seconds (``report.medians``).
    baseline : str
        The implementation speed-ups are relative to (``median[baseline] / median[impl]``); its bar
        is drawn grey. Groups without it show times only.
    path : str
        Where the PNG is written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(groups)
    impls = sorted({i for t in groups.values() for i in t})
    colours = {impl: plt.get_cmap("tab10")(k % 10) for k, impl in enumerate(impls)}
    rows = math.ceil(len(names) / COLUMNS)
    tallest = max(len(t) for t in groups.values())
    panel_height = BAR_HEIGHT_IN * tallest + PANEL_EXTRA_IN
    ncols = min(COLUMNS, len(names))
    fig, axes = plt.subplots(rows, ncols, figsize=(PANEL_WIDTH_IN * ncols, panel_height * rows), squeeze=False)
    for ax, group in zip(axes.flat, names):
        _panel(ax, group, groups[group], baseline, colours)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    height_in = panel_height * rows
    fig.suptitle(
        f"median time per call (log scale); labels: speed-up over {baseline}", fontsize=10, y=1 - 0.12 / height_in
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height_in))  # keep the title's band free
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _panel(ax: Any, group: str, times: dict[str, float], baseline: str, colours: dict) -> None:
    from matplotlib.ticker import NullFormatter

    impls = sorted(times, key=times.__getitem__)
    values_ms = [times[i] * 1e3 for i in impls]
    bars = ax.barh(range(len(impls)), values_ms, color=[colours[i] if i != baseline else "0.6" for i in impls])
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # within a decade, minor labels pile up unreadably
    ax.set_yticks(range(len(impls)), impls, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(group, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("ms", fontsize=7)
    base = times.get(baseline)
    for bar, impl in zip(bars, impls):
        label = f"{times[impl] * 1e3:.3g} ms"
        if base and impl != baseline:
            label += f"  {base / times[impl]:.2f}×"
        ax.annotate(
            label,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.set_xlim(min(values_ms) / 2, max(values_ms) * 12)  # room for the labels right of the bars
