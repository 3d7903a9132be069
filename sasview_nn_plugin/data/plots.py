"""Figures (matplotlib, Agg backend).  Every function writes a PNG atomically and returns its path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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


def inversion_figure(inv, path: str | os.PathLike, title: str = "", curve=None) -> Path:
    """Left: number and volume distributions.  Right: the data with the fit's curve, or else ``curve`` (the
    result's model curve, :func:`sasview_nn_plugin.fitting.curves.model_curve`; None: no curve drawn)."""
    fig, (a1, a2) = new_figure(1, 2, figsize=(11, 4.2))
    fit, band = inv.fit, inv.uncertainty
    tag = f" refined ({fit.method}, {fit.parametrization})" if fit is not None else ""
    a1.plot(inv.radius, inv.number_distribution, "C0-", label=f"number{tag} (mean {inv.mean_radius_number:.1f} A)")
    a1.plot(inv.radius, inv.volume_distribution, "C1-", label=f"volume{tag} (mean {inv.mean_radius_volume:.1f} A)")
    if band is not None:
        a1.fill_between(inv.radius, *band.number_band, color="C0", alpha=0.25, lw=0, label="68 % band")
        a1.fill_between(inv.radius, *band.volume_band, color="C1", alpha=0.25, lw=0)
    if fit is not None and fit.start is not None:
        a1.plot(inv.radius, fit.start.number, "C0:", lw=1, label="network (number)")
    quality = inv.quality
    if quality is not None:  # radii this q window does not constrain: hatched
        lo, hi = quality.observable_radius
        r0, r1 = float(inv.radius[0]), float(inv.radius[-1])
        for a, b, label in ((r0, min(lo, r1), "not observable in this q window"), (max(hi, r0), r1, None)):
            if b > a:
                a1.axvspan(a, b, facecolor="none", edgecolor="0.6", hatch="///", lw=0, label=label)
    a1.set_xlabel("radius R (A)")
    a1.set_ylabel("probability per bin")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    verdict = "" if quality is None else ("; checked: trusted" if not quality.flags
                                          else "; NOT TRUSTED: " + ", ".join(quality.flags))
    sigma = inv.volume_fraction_sigma
    phi = f"{inv.volume_fraction:g}" if sigma is None else f"{inv.volume_fraction:.3g} +- {sigma:.2g} (estimated)"
    a1.set_title(f"size distribution, phi = {phi}{verdict}", fontsize=10,
                 color="C3" if quality is not None and quality.flags else "black")
    q, i_data = inv.q_data, inv.intensity_data
    if inv.di_data is not None:
        a2.errorbar(q, i_data, inv.di_data, fmt=".", ms=2, lw=0.5, color="0.4", label="data")
    else:
        a2.plot(q, i_data, ".", ms=2, color="0.4", label="data")
    a2.axvspan(*inv.q_range, color="C0", alpha=0.08, label="q range of the model")
    if fit is not None:
        a2.plot(fit.q, fit.intensity, "r-", lw=1.2, label=f"bumps fit (chi2_red {fit.chi2_reduced:.3g})")
    elif curve is not None:
        stat = (f"chi2_red {curve.chi2_reduced:.3g}" if curve.weighting == "dI"
                else f"rms rel. residual {100 * curve.chi2_reduced ** 0.5:.2g} %")
        a2.plot(curve.q, curve.intensity, "r-", lw=1.2, label=f"sasmodels curve of result ({stat})")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("q (1/A)")
    a2.set_ylabel("I(q)")
    a2.legend(fontsize=8, loc="lower left")
    a2.grid(alpha=0.3, which="both")
    a2.set_title(title)
    return save_figure(fig, path)


def timeseries_figure(radius, volume, mean_n, mean_v, frame_index, path: str | os.PathLike, title: str = "") -> Path:
    """Top: number- and volume-mean radius per frame.  Bottom: volume distributions as a heat map, each
    frame scaled to its own maximum (narrow early distributions would otherwise wash out the rest)."""
    fig, (a1, a2) = new_figure(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [1, 1.6]})
    a1.plot(frame_index, mean_n, "C0.-", ms=2, lw=0.8, label="number-mean radius")
    a1.plot(frame_index, mean_v, "C1.-", ms=2, lw=0.8, label="volume-mean radius")
    a1.set_ylabel("radius (A)")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    a1.set_title(title or f"{len(frame_index)} frames")
    step = radius[1] - radius[0]
    extent = (frame_index[0] - 0.5, frame_index[-1] + 0.5, radius[0] - step / 2, radius[-1] + step / 2)
    v = np.asarray(volume)
    if len(v) > 2000:  # more frames than pixels: average neighbouring frames (cheaper to draw, same picture)
        edges = np.linspace(0, len(v), 1001).astype(int)
        v = np.add.reduceat(v, edges[:-1], axis=0) / np.diff(edges)[:, None]
    v = v / np.maximum(v.max(axis=1, keepdims=True), 1e-300)
    im = a2.imshow(v.T, origin="lower", aspect="auto", extent=extent, cmap="viridis",
                   interpolation="nearest")
    a2.plot(frame_index, mean_v, "w-", lw=0.6, alpha=0.7)
    a2.set_xlabel("frame")
    a2.set_ylabel("radius R (A)")
    fig.colorbar(im, ax=a2, label="volume distribution / its maximum", pad=0.01)
    return save_figure(fig, path)
