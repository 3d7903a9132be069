"""Fitting > Plot size distribution: a SasView plot window (``ROLE_SIZE_DISTRIBUTION``, the route of SasView's Size
Distribution perspective) of the number and volume distributions of the page's parameters, the network's histogram,
the number-mean radius and, after a Fit, its 1-sigma band from the fit's errors.  The window is titled after the
page and the data (SasView names a new plot window "GraphN"); a width that ended at its bound is said in the title.
"""

from __future__ import annotations

import numpy as np

PLOT_LABELS = {"number": "number", "volume": "volume", "nn_number": "number, network", "nn_volume": "volume, network",
               "mean": "number-mean radius", "band": "number-mean +- 1 sigma (fit errors)"}


def plot_title(tab_name: str, data_name: str, mean: float, sigma: float | None, warnings: list[str],
               network: str | None = None) -> str:
    """The window title: page, data, number-mean radius (+- sigma after a fit), the whole-curve network where it
    gave the start, and any width at its bound."""
    pm = f" +- {sigma:.2g}" if sigma is not None and np.isfinite(sigma) else ""
    text = f"Size distribution {tab_name}: {data_name} (number-mean {mean:.1f}{pm} A)"
    text += " - whole-curve network" if network == "wide" else ""
    at = [w.split(" = ")[0] for w in warnings]
    return text + (f" - {', '.join(at)} at a bound: see the log" if at else "")


def network_histogram(inversion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(radius A, number, volume densities 1/A) of the network's histogram to plot: a whole-curve result's 900
    log-spaced radii cropped to where its number and volume lie (:func:`~..physics.grids.occupied`, as the
    CLI's figures), the windowed network's 100 bins whole.  SasView shows size plots on a log radius axis."""
    from ..physics.grids import occupied
    from .start import histogram_distributions

    h = histogram_distributions(inversion)
    shown = occupied(h["radius"], inversion.number_distribution, inversion.volume_distribution)
    return h["radius"][shown], h["number"][shown], h["volume"][shown]


def _curve(x, y, kind: str, symbol: str, where: str, data, summary: dict):
    from sas.qtgui.Plotting.PlotterData import Data1D, DataRole

    p = Data1D(x=np.asarray(x, float), y=np.asarray(y, float))
    p.is_data = False
    p.plot_role = DataRole.ROLE_SIZE_DISTRIBUTION
    p.symbol = symbol
    p.name = f"{PLOT_LABELS[kind]} [{where}]"   # SasView keys plot windows by name: one per page and data
    p.id = p.name
    p.group_id = f"sasview_nn_plugin size distribution [{where}]"
    p.title = summary["title"]
    p.hide_error = True
    p.xaxis("\\rm{Radius}", "A")
    p.yaxis("\\rm{Probability\\ density}", "A^{-1}")
    p.sasview_nn = dict(summary, kind=kind)
    return p


def marker_lines(mean: float, sigma: float | None, top: float) -> list[tuple[str, list, list]]:
    """(kind, x, y) of the number-mean line (A) up to ``top`` and, with a sigma, the +- 1 sigma band.  SasView
    6.1's plot view drops points with y <= 0 (its default log10(y) transform, even on a linear axis), so a line
    from y = 0 kept one point and was never drawn: the foot is a millionth of ``top`` (0 on the axis)."""
    foot = 1e-6 * top
    lines = [("mean", [mean, mean], [foot, top])]
    if sigma is not None and sigma > 0:
        lo, hi = mean - sigma, mean + sigma
        lines.append(("band", [lo, lo, hi, hi], [foot, top, top, foot]))
    return lines


def plot_curves(values: dict[str, float], errors: dict[str, float] | None, start, tab_name: str,
                data_name: str) -> tuple[dict, list[tuple[str, np.ndarray, np.ndarray, str]]]:
    """(summary, [(kind, x, y, symbol)]) of the size plot, no Qt: the number and volume distributions of the
    page's parameters ``values``, the network's histogram of ``start`` (a :class:`~.start.Start`, or None), the
    number-mean line and, with the fit's ``errors``, its 1-sigma band."""
    from .start import component_distributions, number_mean_sigma, widths_at_bounds

    dist = component_distributions(values)
    mean, sigma = dist["mean_number"], number_mean_sigma(values, errors)
    warnings = widths_at_bounds(values, errors)
    network = None if start is None else start.model
    summary = {"mean_number": mean, "mean_volume": dist["mean_volume"], "mean_number_sigma": sigma,
               "warnings": warnings, "values": values, "network": network,
               "title": plot_title(tab_name, data_name, mean, sigma, warnings, network)}
    curves = [("number", dist["radius"], dist["number"], "Line"), ("volume", dist["radius"], dist["volume"], "Line")]
    if start is not None:
        r, number, volume = network_histogram(start.inversion)
        curves += [("nn_number", r, number, "Circle"), ("nn_volume", r, volume, "Circle")]
    top = float(max(np.max(dist["number"]), np.max(dist["volume"])))
    curves += [(kind, x, y, "Line") for kind, x, y in marker_lines(mean, sigma, top)]
    return summary, curves


def size_distribution_plots(tab) -> list:
    """SasView ``Data1D`` plots (role ROLE_SIZE_DISTRIBUTION) for the page's shown data set (:func:`plot_curves`)."""
    from .page import _data_key, _shown_data, _state, page_values

    data = _shown_data(tab)
    st = _state(tab)
    key = _data_key(data)
    where = f"M{tab.tab_id}" + (f", {data.name}" if len(tab.all_data) > 1 else "")
    summary, curves = plot_curves(page_values(tab, data), st.errors.get(key), st.starts.get(key), f"M{tab.tab_id}",
                                  str(data.name))
    return [_curve(x, y, kind, symbol, where, data, summary) for kind, x, y, symbol in curves]


def _title_windows(tab, plots) -> None:
    """Give the plot window its title (SasView calls a new one "GraphN"), as SasView's own rename does."""
    from .compat import communicator
    from .page import gui_manager

    explorer = getattr(gui_manager(), "filesWidget", None)
    title = plots[0].sasview_nn["title"]
    seen = set()
    for p in plots:
        widget = getattr(explorer, "active_plots", {}).get(p.name)
        if widget is None or id(widget) in seen:
            continue
        seen.add(id(widget))
        old = widget.windowTitle()
        if old != title:
            widget.setWindowTitle(title)
            communicator().activeGraphName.emit((old, title))


def plot_size_distribution(tab=None) -> list:
    """Fitting > Plot size distribution: open (or update) the plot for the current page; returns the plots."""
    from sas.qtgui.Utilities import GuiUtils

    from .compat import request_plot
    from .page import _page_items, _state, current_tab

    tab = tab or current_tab()
    _page_items(tab)
    plots = size_distribution_plots(tab)
    item = tab.all_data[getattr(tab, "data_index", 0)]
    for p in plots:
        GuiUtils.updateModelItemWithPlot(item, p, p.name)
    request_plot([item, *plots], tab.tab_id)
    _title_windows(tab, plots)
    _state(tab).plotted = True
    return plots
