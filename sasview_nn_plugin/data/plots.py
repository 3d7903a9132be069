"""Figures (matplotlib, Agg backend).  Every function writes a PNG atomically and returns its path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..physics.grids import is_log_grid, occupied
from .files import atomic_path


def new_figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_figure(fig, path: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return path


def training_curve(history: dict, path: str | os.PathLike, title: str = "", ylabel: str = "loss") -> Path:
    """Training and validation loss per epoch (log scale)."""
    fig, ax = new_figure(figsize=(6, 4))
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], style, label=key.replace("_", " "))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "training")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def checked_model_curve(inv) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(q, I, label) of the forward-model check's curve (``inv.quality.model_curve()``: its q points, smearing,
    phi, scale and background) and the statistic it printed: ``chi2_red`` (``quality.chi2_reduced``), without
    dI the block-smoothed ``misfit rms`` (``quality.residual_rms``).  None when there is no checked curve."""
    quality = inv.quality
    curve = None if quality is None else quality.model_curve()
    if curve is None:
        return None
    stat = (f"chi2_red {quality.chi2_reduced:.3g}" if quality.chi2_reduced is not None
            else f"misfit rms {100 * quality.residual_rms:.2g} %")
    return curve[0], curve[1], f"model curve of the check ({stat})"


def verdict_text(quality) -> str:
    """The title's verdict: "checked: trusted", "checked: approximate (...)" (close, not a fit: refine it) or
    "NOT TRUSTED: flags" (``quality.verdict``, ``quality.flags``)."""
    if quality.flags:
        return "; NOT TRUSTED: " + ", ".join(quality.flags)
    if getattr(quality, "approximate", False):
        return "; checked: approximate (close, not a fit: refine it)"
    return "; checked: trusted"


def inversion_figure(inv, path: str | os.PathLike, title: str = "") -> Path:
    """Left: number and volume distributions.  Right: the data with the fit's curve, or else the forward-model
    check's curve and statistic (:func:`checked_model_curve`, the numbers of ``inv.quality``).
    A refined result with calibrated intervals has a middle panel, its cumulative number distribution with
    the 68 % and 95 % bands, and the 68 % intervals of <R>n and phi in the left panel's title."""
    fit, band = inv.fit, inv.uncertainty
    cumulative = None if band is None else band.cumulative_band
    if cumulative is None:
        fig, (a1, a2) = new_figure(1, 2, figsize=(11, 4.6), gridspec_kw={"wspace": 0.3})
    else:
        fig, (a1, a3, a2) = new_figure(1, 3, figsize=(16.5, 4.4),
                                       gridspec_kw={"width_ratios": [1, 0.8, 1], "wspace": 0.32})
        _cumulative_panel(fig, a3, inv.radius, np.cumsum(inv.number_distribution), cumulative)
    tag = f" refined ({fit.method}, {fit.parametrization})" if fit is not None else ""
    per_a = 1.0 / np.gradient(inv.radius)   # probability per bin -> density per A (as SasView plots it); log bins widen
    a1.plot(inv.radius, per_a * inv.number_distribution, "C0-",
            label=f"number{tag} (mean {inv.mean_radius_number:.1f} A)")
    a1.plot(inv.radius, per_a * inv.volume_distribution, "C1-",
            label=f"volume{tag} (mean {inv.mean_radius_volume:.1f} A)")
    if band is not None:
        a1.fill_between(inv.radius, *(per_a * b for b in band.number_band), color="C0", alpha=0.25, lw=0,
                        label="68 % band")
        a1.fill_between(inv.radius, *(per_a * b for b in band.volume_band), color="C1", alpha=0.25, lw=0)
    if fit is not None and fit.start is not None:
        a1.plot(inv.radius, per_a * fit.start.number, "C0:", lw=1, label="network (number)")
    quality = inv.quality
    if quality is not None:  # radii this q window does not constrain: hatched
        lo, hi = quality.observable_radius
        r0, r1 = float(inv.radius[0]), float(inv.radius[-1])
        for a, b, label in ((r0, min(lo, r1), "not observable in this q window"), (max(hi, r0), r1, None)):
            if b > a:
                a1.axvspan(a, b, facecolor="none", edgecolor="0.6", hatch="///", lw=0, label=label)
    if is_log_grid(inv.radius):   # a log grid over decades (whole-curve model): log axis, cropped
        shown = inv.radius[occupied(inv.radius, inv.number_distribution, inv.volume_distribution)]
        a1.set_xscale("log")
        a1.set_xlim(shown[0], shown[-1])
    a1.set_xlabel("radius R (A)")
    a1.set_ylabel("density per A of radius (1/A)")
    a1.legend(fontsize=8, **BELOW)
    a1.grid(alpha=0.3)
    verdict = "" if quality is None else verdict_text(quality)
    sigma = inv.volume_fraction_sigma
    phi = f"{inv.volume_fraction:g}" if sigma is None else f"{inv.volume_fraction:.3g} +- {sigma:.2g} (estimated)"
    rn, phi68 = (None, None) if band is None else (band.interval("mean_radius_number"),
                                                   band.interval("volume_fraction"))
    if phi68 is not None:  # refined: the calibrated 68 % interval of the fitted phi
        phi = _with_interval(inv.volume_fraction, phi68)
    head = f"size distribution, phi = {phi}{verdict}"
    if rn is not None:
        head = (f"size distribution{verdict}\n<R>n = {_with_interval(inv.mean_radius_number, rn, ' A')}, "
                f"phi = {phi} (68 %)")
    a1.set_title(head, fontsize=10 if rn is None else 9,
                 color="black" if quality is None or quality.verdict == "trusted" else
                 "C3" if quality.flags else "C1")
    _curve_panels(fig, a2, inv, title)
    return save_figure(fig, path)


BELOW = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.14), "ncol": 2, "frameon": False}  # never over the data


def _curve_panels(fig, ax, inv, title: str) -> None:
    """In ``ax``'s place: the data with the fit's (or the check's) curve and, below, the residuals against it."""
    spec = ax.get_subplotspec().subgridspec(2, 1, height_ratios=[2.6, 1], hspace=0.06)
    ax.remove()
    a2 = fig.add_subplot(spec[0])
    low = fig.add_subplot(spec[1], sharex=a2)
    q, i_data, di = inv.q_data, inv.intensity_data, inv.di_data
    if di is not None:
        a2.errorbar(q, i_data, di, fmt=".", ms=2, lw=0.5, color="0.4", label="data")
    else:
        a2.plot(q, i_data, ".", ms=2, color="0.4", label="data")
    for a in (a2, low):
        a.axvspan(*inv.q_range, color="C0", alpha=0.08, label="q window the network saw" if a is a2 else None)
    curve = None
    if inv.fit is not None:
        curve = (inv.fit.q, inv.fit.intensity, f"bumps fit (chi2_red {inv.fit.chi2_reduced:.3g})")
    elif (checked := checked_model_curve(inv)) is not None:
        curve = checked
    if curve is not None:
        a2.plot(curve[0], curve[1], "r-", lw=1.2, label=curve[2])
        k = np.clip(np.searchsorted(q, curve[0]), 0, len(q) - 1)
        on = np.isclose(q[k], curve[0], rtol=1e-9, atol=0)      # the model's points that are data points
        model = np.asarray(curve[1])[on]
        res = (i_data[k[on]] - model) / (di[k[on]] if di is not None else model)
        low.plot(curve[0][on], res, ".", ms=2, color="0.3")
    low.axhline(0, color="r", lw=0.8)
    low.set_ylabel("residual\n(I - model) / dI" if di is not None else "residual\n(I - model) / model", fontsize=8)
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.tick_params(which="both", labelbottom=False)
    low.set_xlabel("q (1/A)")
    a2.set_ylabel("I(q) (data units, e.g. 1/cm)")
    a2.legend(fontsize=8, **(BELOW | {"bbox_to_anchor": (0.5, -0.62)}))   # below the residual panel
    for a in (a2, low):
        a.grid(alpha=0.3, which="both")
    a2.set_title(title)


def _with_interval(value: float, interval: tuple[float, float], unit: str = "") -> str:
    """``value`` and its 68 % interval, to the decimals that show the interval's width to two digits."""
    lo, hi = interval
    width = hi - lo
    digits = int(np.clip(1 - np.floor(np.log10(width)), 0, 6)) if np.isfinite(width) and width > 0 else 3
    return f"{value:.{digits}f}{unit} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _cumulative_panel(fig, ax, radius, cum, band) -> None:
    """In ``ax``'s place: the cumulative number distribution with its calibrated 68 % and 95 % bands (band:
    2.5/16/84/97.5 %) and, below it, the bands less the result (percentage points), which shows a narrow band."""
    spec = ax.get_subplotspec().subgridspec(2, 1, height_ratios=[2.2, 1], hspace=0.08)
    ax.remove()
    top = fig.add_subplot(spec[0])
    low = fig.add_subplot(spec[1], sharex=top)
    for a, ref, scale in ((top, 0.0, 1.0), (low, cum, 100.0)):
        a.fill_between(radius, scale * (band[0] - ref), scale * (band[3] - ref), color="C0", alpha=0.18, lw=0,
                       label="95 % band")
        a.fill_between(radius, scale * (band[1] - ref), scale * (band[2] - ref), color="C0", alpha=0.4, lw=0,
                       label="68 % band")
        a.plot(radius, scale * (cum - ref), "C0-", lw=1.2, label="refined")
        a.grid(alpha=0.3)
    lo, hi = np.interp([0.005, 0.995], cum, radius)  # where the distribution is: the band elsewhere is 0 or 1
    pad = 0.15 * (hi - lo) + (radius[1] - radius[0])
    top.set_xlim(max(radius[0], lo - pad), min(radius[-1], hi + pad))
    top.set_ylim(-0.02, 1.02)
    top.tick_params(labelbottom=False)
    top.set_ylabel("cumulative number")
    top.set_title("cumulative number distribution, calibrated bands", fontsize=10)
    top.legend(fontsize=8, **(BELOW | {"bbox_to_anchor": (0.5, -0.85), "ncol": 3}))
    low.set_xlabel("radius R (A)")
    low.set_ylabel("band - result\n(% points)", fontsize=9)


class TimeSeries:
    """The time-series figure's data, gathered a block of frames at a time in fixed memory: at most ``columns``
    columns (neighbouring frames averaged), each frame's volume distribution drawn on its own radii (``radius *
    scale``: a mapped q window's result) as density per A, resampled onto one radius axis and scaled to its maximum."""

    def __init__(self, n_frames: int, radius: np.ndarray, scale_lo: float, scale_hi: float, columns: int = 1000):
        self.n, self.cols, self.radius = n_frames, min(n_frames, columns), np.asarray(radius, dtype=float)
        self.step = self.radius[1] - self.radius[0]
        lo, hi = max(self.radius[0] - self.step / 2, 0.0) * scale_lo, (self.radius[-1] + self.step / 2) * scale_hi
        n_r = int(min(1500, np.ceil((hi - lo) / (self.step * scale_lo)) + 1))
        self.r = np.linspace(lo, hi, n_r)
        self.heat, self.cover = np.zeros((self.cols, n_r)), np.zeros((self.cols, n_r))
        self.means, self.count = np.zeros((self.cols, 2)), np.zeros(self.cols)

    def add(self, positions, volume, scale, mean_n, mean_v) -> None:
        """Ok frames at ``positions`` (0 .. n_frames - 1, run order) with their volume distributions (per bin of
        ``radius * scale``) and mean radii."""
        if not len(positions):
            return
        scale = np.asarray(scale, dtype=float)[:, None]
        density = np.asarray(volume) / (self.step * scale)                       # per A
        density = density / np.maximum(density.max(axis=1, keepdims=True), 1e-300)
        j = (self.r[None, :] / scale - self.radius[0]) / self.step             # fractional bin of each radius
        inside = (j >= -0.5) & (j <= len(self.radius) - 0.5)
        jc = np.clip(j, 0, len(self.radius) - 1)
        lo = np.minimum(jc.astype(int), len(self.radius) - 2)
        rows = np.arange(len(density))[:, None]
        value = density[rows, lo] * (1 - (jc - lo)) + density[rows, lo + 1] * (jc - lo)
        col = np.asarray(positions) * self.cols // self.n
        np.add.at(self.heat, col, np.where(inside, value, 0.0))
        np.add.at(self.cover, col, inside)
        np.add.at(self.means, col, np.column_stack([mean_n, mean_v]))
        np.add.at(self.count, col, 1)


def timeseries_figure(series: TimeSeries, path: str | os.PathLike, title: str = "") -> Path:
    """Top: number- and volume-mean radius per frame.  Bottom: volume distributions (density per A) as a heat map on
    each frame's own radii, each frame scaled to its maximum (narrow early distributions would otherwise wash out
    the rest); blank where a frame has no radius bins or no result."""
    with np.errstate(invalid="ignore", divide="ignore"):
        heat = series.heat / series.cover
        heat = heat / np.max(np.where(np.isfinite(heat), heat, -np.inf), axis=1, keepdims=True)
        means = series.means / series.count[:, None]
    x = (np.arange(series.cols) + 0.5) * series.n / series.cols - 0.5
    fig, (a1, a2) = new_figure(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [1, 1.6]})
    a1.plot(x, means[:, 0], "C0.-", ms=2, lw=0.8, label="number-mean radius")
    a1.plot(x, means[:, 1], "C1.-", ms=2, lw=0.8, label="volume-mean radius")
    a1.set_ylabel("mean radius (A)")
    a1.legend(fontsize=8, loc="best")
    a1.grid(alpha=0.3)
    a1.set_title(title or f"{series.n} frames" + (f" (averaged {series.n / series.cols:.3g} a column)"
                                                  if series.cols < series.n else ""))
    im = a2.imshow(heat.T, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest",
                   extent=(-0.5, series.n - 0.5, series.r[0], series.r[-1]))
    a2.plot(x, means[:, 1], "w-", lw=0.6, alpha=0.7)
    a2.set_xlim(-0.5, series.n - 0.5)
    a2.set_xlabel("frame (run order)")
    a2.set_ylabel("radius R (A)")
    cax = a2.inset_axes([1.01, 0.0, 0.015, 1.0])   # beside the map, not taken from its width: the panels align
    fig.colorbar(im, cax=cax, label="volume density per A / its maximum")
    return save_figure(fig, path)
