"""Reproduction of Lam, Park, Tsang, Marks, Ishimaru & Kitamura, Opt. Lett. (1990): a layered
perceptron reads a log-normal size distribution's median r_m and geometric width sigma from
backscatter at three wavelengths, trained only inside the "allowable region" where the inversion is
unique.

Steps (``reproduce``):
1. Allowable region.  Over a (log r_m, log sigma) grid, D = smallest distance between a point's beta
   vector and its four neighbours'.  Two readings of the paper's criterion are computed:
   - ``relative``: 100 * D / |beta| >= D_1 (D_1 = 10, a floor proportional to the signal);
   - ``shape``: the scale-free distance of log beta (offset removed: the number concentration is
     unknown), rms over wavelengths, >= ``shape_floor`` -- the criterion our SAXS map uses.
   The paper's region, -0.328 <= log r_m <= 0.44 and 0.03 <= log sigma <= 0.5, is drawn over both.
2. Data: 480 sets on a 24 x 20 grid spanning the allowed box -- by default the extents of the region our
   ``shape`` criterion allows (the paper's procedure with our region), or the paper's box
   (``region="paper"``); 18 random sets are held out.
3. Inputs log10 beta and outputs (log r_m, log sigma) scaled to 0-1 over the training sets; a dense
   network (:func:`sasview_nn_plugin.training.train.fit_dense`, the SAXS networks' core) with MSE loss.
4. Absolute percentage errors of log r_m and log sigma on the 18 test sets (the paper's Fig. 3), and
   figures of both (fig3) and of the allowable region (fig2).
Units: um.  Logarithms base 10, as in the paper.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.files import ensure_output_dir, write_atomic
from ..errors import InputError
from ..fitting.identifiability import neighbour_min
from .mie import MieSetup, backscatter, backscatter_kernel

PAPER_REGION = {"log_rm": (-0.328, 0.44), "log_sigma": (0.03, 0.5)}


@dataclass(frozen=True)
class Lam1990Settings:
    setup: MieSetup = field(default_factory=MieSetup)
    n_rm: int = 24                    # 24 x 20 = 480 sets inside the paper's region
    n_sigma: int = 20
    n_test: int = 18
    d1_percent: float = 10.0          # the paper's D_1, read as a relative floor in percent
    shape_floor: float = 0.02         # rms of offset-free ln beta differences between neighbours
    scan_log_rm: tuple[float, float] = (-1.2, 1.2)
    scan_log_sigma: tuple[float, float] = (0.01, 0.7)
    region: str = "ours"              # where the 480 sets lie: "ours" (the box our shape criterion allows) | "paper"
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 2000
    learning_rate: float = 1e-2
    batch_size: int = 32
    schedule: str = "cosine"
    seed: int = 1990


@dataclass
class Region:
    log_rm: np.ndarray
    log_sigma: np.ndarray
    relative_percent: np.ndarray     # (n_rm, n_sigma)
    shape_distance: np.ndarray
    allowed_relative: np.ndarray
    allowed_shape: np.ndarray


def _relative(a, b):
    return 100 * np.linalg.norm(a - b, axis=-1) / np.linalg.norm(a, axis=-1)


def _shape(a, b):
    d = np.log(a) - np.log(b)
    d -= d.mean(axis=-1, keepdims=True)
    return np.sqrt((d**2).mean(axis=-1))


def allowable_region(s: Lam1990Settings, kernel: np.ndarray | None = None) -> Region:
    """Both criteria on a scan grid with the data grid's spacing (see the module docstring)."""
    kernel = backscatter_kernel(s.setup) if kernel is None else kernel
    step_r = np.diff(PAPER_REGION["log_rm"])[0] / (s.n_rm - 1)
    step_s = np.diff(PAPER_REGION["log_sigma"])[0] / (s.n_sigma - 1)
    lr = np.arange(s.scan_log_rm[0], s.scan_log_rm[1] + step_r / 2, step_r)
    ls = np.arange(s.scan_log_sigma[0], s.scan_log_sigma[1] + step_s / 2, step_s)
    rr, ss = np.meshgrid(lr, ls, indexing="ij")
    beta = backscatter(s.setup, 10**rr, 10**ss, kernel)
    rel = neighbour_min(beta, _relative)
    shape = neighbour_min(beta, _shape)
    return Region(lr, ls, rel, shape, rel >= s.d1_percent, shape >= s.shape_floor)


def region_extent(axis_values: np.ndarray, allowed: np.ndarray, axis: int) -> tuple[float, float] | None:
    """Range of axis values whose row (axis 0) or column (axis 1) is allowed at more than half its points."""
    share = allowed.mean(axis=1 - axis)
    ok = axis_values[share > 0.5]
    return (float(ok.min()), float(ok.max())) if len(ok) else None


def training_box(s: Lam1990Settings, region: Region) -> dict[str, tuple[float, float]]:
    """The box the sets fill: the paper's, or the extents of the region our shape criterion allows."""
    if s.region == "paper":
        return PAPER_REGION
    if s.region != "ours":
        raise InputError(f"unknown region {s.region!r}; choose ours or paper", parameter="region")
    box = {"log_rm": region_extent(region.log_rm, region.allowed_shape, 0),
           "log_sigma": region_extent(region.log_sigma, region.allowed_shape, 1)}
    if None in box.values():
        raise InputError("the shape criterion allows no region; lower shape_floor", parameter="shape_floor")
    return box


def make_sets(s: Lam1990Settings, kernel: np.ndarray, box: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(log10 beta (480, 3), targets (480, 2) = log r_m, log sigma) on a 24 x 20 grid over ``box``."""
    box = box or PAPER_REGION
    lr = np.linspace(*box["log_rm"], s.n_rm)
    ls = np.linspace(*box["log_sigma"], s.n_sigma)
    rr, ss = (a.ravel() for a in np.meshgrid(lr, ls, indexing="ij"))
    return np.log10(backscatter(s.setup, 10**rr, 10**ss, kernel)), np.stack([rr, ss], axis=1)


@dataclass
class Reproduction:
    settings: Lam1990Settings
    region: Region
    test_true: np.ndarray            # (18, 2) log r_m, log sigma
    test_pred: np.ndarray
    ape: np.ndarray                  # (18, 2) absolute percentage error of log r_m and log sigma
    ape_physical: np.ndarray         # (18, 2) absolute percentage error of r_m and sigma themselves
    train_seconds: float
    history: dict
    box: dict = field(default_factory=lambda: dict(PAPER_REGION))

    def summary(self) -> dict:
        r = self.region
        return {
            "paper_region": PAPER_REGION, "training_box": self.box, "region_used": self.settings.region,
            "ours_relative_D1": {"log_rm": region_extent(r.log_rm, r.allowed_relative, 0),
                                 "log_sigma": region_extent(r.log_sigma, r.allowed_relative, 1)},
            "ours_shape": {"log_rm": region_extent(r.log_rm, r.allowed_shape, 0),
                           "log_sigma": region_extent(r.log_sigma, r.allowed_shape, 1)},
            "paper_box_allowed_fraction": {"relative": _box_fraction(r, r.allowed_relative),
                                           "shape": _box_fraction(r, r.allowed_shape)},
            "n_sets": self.settings.n_rm * self.settings.n_sigma, "n_test": int(len(self.ape)),
            "test_ape_percent": {"log_rm": self.ape[:, 0].tolist(), "log_sigma": self.ape[:, 1].tolist()},
            "share_below_10_percent": {"log_rm": float(np.mean(self.ape[:, 0] < 10)),
                                       "log_sigma": float(np.mean(self.ape[:, 1] < 10))},
            "test_ape_percent_physical": {"r_m": self.ape_physical[:, 0].tolist(),
                                          "sigma": self.ape_physical[:, 1].tolist()},
            "share_below_10_percent_physical": {"r_m": float(np.mean(self.ape_physical[:, 0] < 10)),
                                                "sigma": float(np.mean(self.ape_physical[:, 1] < 10))},
            "test_log_true": self.test_true.tolist(), "test_log_pred": self.test_pred.tolist(),
            "train_seconds": round(self.train_seconds, 1), "epochs": len(self.history.get("loss", [])),
            "final_loss": self.history.get("loss", [None])[-1],
        }


def _box_fraction(r: Region, allowed: np.ndarray) -> float:
    a, b = PAPER_REGION["log_rm"]
    c, d = PAPER_REGION["log_sigma"]
    rows = (r.log_rm >= a - 1e-9) & (r.log_rm <= b + 1e-9)
    cols = (r.log_sigma >= c - 1e-9) & (r.log_sigma <= d + 1e-9)
    return float(allowed[np.ix_(rows, cols)].mean())


def reproduce(settings: Lam1990Settings | None = None, verbose: int = 0) -> Reproduction:
    """Run steps 1-4 of the module docstring (Keras needed: the [train] extra)."""
    from ..training.train import fit_dense

    s = settings or Lam1990Settings()
    kernel = backscatter_kernel(s.setup)
    region = allowable_region(s, kernel)
    box = training_box(s, region)
    x_raw, y_raw = make_sets(s, kernel, box)
    rng = np.random.default_rng(s.seed)
    order = rng.permutation(len(x_raw))
    test, train_rows = order[:s.n_test], order[s.n_test:]
    x_lo, x_hi = x_raw[train_rows].min(axis=0), x_raw[train_rows].max(axis=0)
    y_lo, y_hi = y_raw[train_rows].min(axis=0), y_raw[train_rows].max(axis=0)
    x = ((x_raw - x_lo) / (x_hi - x_lo)).astype(np.float32)
    y = ((y_raw - y_lo) / (y_hi - y_lo)).astype(np.float32)
    fitted = fit_dense(x, y, train_rows, train_rows, hidden=s.hidden, output="sigmoid", loss="mse",
                       learning_rate=s.learning_rate, batch_size=s.batch_size, epochs=s.epochs, schedule=s.schedule,
                       patience=max(50, s.epochs // 10), seed=s.seed, verbose=verbose)
    pred = y_lo + np.asarray(fitted.keras_predict(x[test]), float) * (y_hi - y_lo)
    ape = 100 * np.abs(pred - y_raw[test]) / np.abs(y_raw[test])
    ape_physical = 100 * np.abs(10 ** (pred - y_raw[test]) - 1)
    return Reproduction(s, region, y_raw[test], pred, ape, ape_physical, fitted.seconds, fitted.history, box)


def figures(rep: Reproduction, output: Path) -> dict[str, Path]:
    """fig2 (allowable region: both criteria, the paper's box) and fig3 (test-set errors)."""
    from ..data.plots import new_figure, save_figure

    paths = {"fig2": region_figure(rep.region, rep.settings, output / "fig2_allowable_region.png", rep.box)}
    fig, axes = new_figure(1, 2, figsize=(12, 4.5), sharey=True)
    k = np.arange(1, len(rep.ape) + 1)
    for ax, ape, names in ((axes[0], rep.ape, ("log r_m", "log sigma")),
                           (axes[1], rep.ape_physical, ("r_m", "sigma"))):
        ax.bar(k - 0.2, np.maximum(ape[:, 0], 1e-3), 0.4, label=names[0])
        ax.bar(k + 0.2, np.maximum(ape[:, 1], 1e-3), 0.4, label=names[1])
        ax.axhline(10, color="k", ls="--", lw=1, label="10 %")
        ax.set_yscale("log")
        ax.set_xlabel("test set (log r_m of each below)")
        ax.set_xticks(k, [f"{v:.2f}" for v in rep.test_true[:, 0]], rotation=90, fontsize=7)
        ax.legend(fontsize=8)
        ax.set_title(f"error of {names[0]} and {names[1]}", fontsize=10)
    axes[0].set_ylabel("absolute percentage error (%)")
    fig.suptitle(f"Fig. 3 (reproduction): {len(k)} test sets, network trained on "
                 f"{rep.settings.n_rm * rep.settings.n_sigma - len(k)}", fontsize=10)
    fig.tight_layout()
    paths["fig3"] = save_figure(fig, output / "fig3_test_errors.png")
    return paths


def region_figure(r: Region, settings: Lam1990Settings, path: Path, box: dict | None = None) -> Path:
    """Fig. 2: neighbour distances, the region each criterion allows (not allowed: hatched), the paper's box."""
    from ..data.plots import new_figure, save_figure

    fig, axes = new_figure(1, 2, figsize=(12, 4.8))
    for ax, dist, allowed, label in ((axes[0], r.relative_percent, r.allowed_relative,
                                      f"relative: 100 D/|beta| >= D_1 = {settings.d1_percent:g}"),
                                     (axes[1], r.shape_distance, r.allowed_shape,
                                      f"shape: rms offset-free ln-beta distance >= {settings.shape_floor:g}")):
        z = np.log10(np.maximum(dist, 1e-6)).T
        lo, hi = np.percentile(z, [5, 95])
        im = ax.pcolormesh(r.log_rm, r.log_sigma, z, shading="nearest", cmap="viridis", vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, label="log10 neighbour distance")
        ax.contourf(r.log_rm, r.log_sigma, allowed.T.astype(float), levels=[-0.5, 0.5], colors="none", hatches=["xx"])
        ax.contour(r.log_rm, r.log_sigma, allowed.T.astype(float), levels=[0.5], colors="w", linewidths=1.2)
        (a, b), (c, d) = PAPER_REGION["log_rm"], PAPER_REGION["log_sigma"]
        ax.plot([a, b, b, a, a], [c, c, d, d, c], "r--", lw=2, label="paper's allowable region")
        if box is not None and box != PAPER_REGION:
            (a, b), (c, d) = box["log_rm"], box["log_sigma"]
            ax.plot([a, b, b, a, a], [c, c, d, d, c], color="orange", lw=2, label="training sets (ours)")
        ax.set_xlabel("log10 r_m (um)")
        ax.set_ylabel("log10 sigma")
        ax.set_title(f"hatched = not allowed; {label}", fontsize=9)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("Fig. 2 (reproduction): allowable region, backscatter at 0.53 / 1.06 / 2.12 um, m = 1.53 - 0.008j",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def run(output: str | os.PathLike, settings: Lam1990Settings | None = None, verbose: int = 0) -> dict:
    """``sasview-nn lam1990``: reproduce, write summary.json, fig2 and fig3 into ``output``."""
    try:
        import miepython  # noqa: F401
    except ImportError:
        raise InputError("the Mie reproduction needs miepython: pip install -e .[optics]", parameter=None) from None
    out = ensure_output_dir(output)
    rep = reproduce(settings, verbose=verbose)
    summary = rep.summary()
    summary["settings"] = json.loads(json.dumps(asdict(rep.settings), default=str))
    write_atomic(out / "summary.json", json.dumps(summary, indent=1))
    summary["figures"] = {k: str(v) for k, v in figures(rep, out).items()}
    return summary
