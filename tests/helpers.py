"""Helpers shared by the tests (curves from sasmodels, distributions on the default grid, W1, a bumps problem):
a plain module, not a test module, so that no test module imports another."""

from __future__ import annotations

import numpy as np

from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid

Q = np.geomspace(0.03, 0.15, 400)
GRID = RadiusGrid()
HS = dict(radius_effective_mode=1, structure_factor_mode=0, scale=1.0, background=0.0)
# this package's dependencies that SasView's own Python lacks: the bundle's code must run with them blocked
NOT_IN_SASVIEW = ("tqdm", "filelock", "threadpoolctl", "tensorflow", "platformdirs", "matplotlib")


def sasmodels_curve(q, radius, pd, pd_type, phi, dq_over_q=0.0):
    """sphere@hardsphere from sasmodels' own polydispersity (and Pinhole1D resolution if asked)."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel
    from sasmodels.resolution import Pinhole1D

    model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    res = Pinhole1D(q, dq_over_q * q) if dq_over_q else None
    kernel = model.make_kernel([res.q_calc if res else q])
    i = call_kernel(kernel, dict(radius=radius, radius_pd=pd, radius_pd_type=pd_type, radius_pd_n=80,
                                 radius_pd_nsigma=8 if pd_type == "schulz" else 4, volfraction=phi,
                                 radius_effective_mode=1))
    return res.apply(i) if res else i


def w1_across(r_a, w_a, r_b, w_b):
    """W1 (A) between number distributions on two radius grids (a start through the self-similar window map
    lies on the model's grid times s): the integral of |F_a - F_b| of their step CDFs."""
    x = np.union1d(r_a, r_b)
    fa = np.concatenate([[0.0], np.cumsum(w_a)])[np.searchsorted(r_a, x, side="right")]
    fb = np.concatenate([[0.0], np.cumsum(w_b)])[np.searchsorted(r_b, x, side="right")]
    return float(np.sum(np.abs(fa - fb)[:-1] * np.diff(x)))


def curve(w, phi, rng, noise=0.02, smeared=False, background=0.01):
    """sphere@hardsphere (physics.intensity == sasmodels) of number weights ``w``: (I, dI, dq)."""
    from sasmodels.resolution import Pinhole1D

    if smeared:
        res = Pinhole1D(Q, 0.05 * Q)
        i = res.apply(physics.intensity(physics.sphere_basis(res.q_calc, GRID.radius), w, phi))
    else:
        i = physics.intensity(physics.sphere_basis(Q, GRID.radius), w, phi)
    i = i + background * np.interp(0.105, Q, i)
    di = noise * i
    return i + di * rng.standard_normal(len(Q)), di, 0.05 * Q if smeared else None


def smeared_curve(w, phi, dq_over_q, rng, noise=0.01):
    from sasmodels.resolution import Pinhole1D

    res = Pinhole1D(Q, dq_over_q * Q)
    i = res.apply(physics.intensity(physics.sphere_basis(res.q_calc, GRID.radius), w, phi))
    di = noise * i
    return i + di * rng.standard_normal(len(Q)), di


def schulz(mean, pd):
    return distributions.bin_mass(distributions.schulz_cdf, GRID, np.array([mean]), np.array([pd]))[0]


def schulz_mix(means, pds, shares):
    """Number weights of a volume-share mixture of Schulz components on the model grid."""
    v = sum(s * physics.number_to_volume(distributions.bin_mass(distributions.schulz_cdf, GRID, np.array([m]),
                                                                np.array([p]))[0], GRID.radius)
            for m, p, s in zip(means, pds, shares, strict=True))
    return physics.volume_to_number(v, GRID.radius)


def hand_made_start(w, phi, intensity, di, dq=None, phi_sigma=None, q=Q, window=(0.04, 0.105)):
    """A refinement's start made by hand, no network: number weights ``w`` on GRID at volume fraction ``phi`` for the
    curve (q, intensity, di, dq), shaped as `invert` returns it (``window``: the q range a network would have read;
    ``phi_sigma``: the 1-sigma of an estimated phi, None where phi is given)."""
    from sasview_nn_plugin.data.curve import Curve
    from sasview_nn_plugin.inference.result import Distribution, Inversion

    w = np.asarray(w, float)
    curve = Curve.from_arrays(q, intensity, di, dq=dq)
    return Inversion(Distribution(GRID.radius, w / w.sum()), phi, "hand-made", curve, window,
                     volume_fraction_sigma=phi_sigma)


def direct_curve(name, q, **pars):
    """sasmodels' DirectModel of model ``name`` on q with ``pars``."""
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D
    from sasmodels.direct_model import DirectModel

    return DirectModel(empty_data1D(np.asarray(q)), load_model(name, dtype="double", platform="dll"))(**pars)


def schulz_hs(q, radius, pd=0.1, phi=0.3):
    return direct_curve("sphere@hardsphere", q, radius=radius, radius_pd=pd, radius_pd_type="schulz",
                        radius_pd_n=80, radius_pd_nsigma=8, volfraction=phi, **HS)


def make_problem(r0, pd_type="schulz", model_name="sphere@hardsphere", seed=0, below_qmin=0):
    """R = 45 A Schulz pd 0.1, phi 0.3, 1 % noise; start radius r0.  below_qmin: that many first points
    are set to -1 and left out by the data's qmin."""
    from bumps.fitproblem import FitProblem
    from sasmodels.bumps_model import Experiment, Model
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.03, 0.15, 300)
    truth = dict(radius=45.0, radius_pd=0.1, radius_pd_type=pd_type, radius_pd_n=40, volfraction=0.3,
                 radius_effective_mode=1)
    i = call_kernel(load_model("sphere@hardsphere", dtype="double", platform="dll").make_kernel([q]), truth)
    data = empty_data1D(q)
    data.y = i * (1 + 0.01 * np.random.default_rng(seed).standard_normal(len(q)))
    data.dy = 0.01 * i
    if below_qmin:
        data.y[:below_qmin] = -1.0
        data.qmin = float(q[below_qmin])
    pars = dict(radius=r0, radius_pd=0.1, radius_pd_type=pd_type, radius_pd_n=40, scale=1.0, background=0.0)
    if model_name == "sphere@hardsphere":
        pars.update(volfraction=0.3, radius_effective_mode=1)
    m = Model(load_model(model_name), **pars)
    m.radius.range(5, 200)
    m.radius_pd.range(0.01, 0.5)
    m.scale.range(0, 100)
    m.background.range(0, 10)
    return FitProblem(Experiment(data=data, model=m)), m


def write_synthetic_parts(out, n: int, radius, seed: int = 0) -> list:
    """``n`` frames recorded as `batch` records them (parts of 512 in ``out``/PARTS, random distributions over
    ``radius``, phi 0.3, status ok); returns their Units, ready for ``runs.batch.finish_run(out, units, radius)``.
    Shared by tests/test_batch_memory.py and benchmarks/bench_batch_memory.py."""
    from sasview_nn_plugin.runs.plan import PARTS, Unit
    from sasview_nn_plugin.runs.summary import no_intervals

    rng = np.random.default_rng(seed)
    (out / PARTS).mkdir(parents=True, exist_ok=True)
    units = []
    for start in range(0, n, 512):
        k = min(512, n - start)
        uid = f"t{start:012d}"
        number = rng.random((k, len(radius)))
        number /= number.sum(axis=1, keepdims=True)
        text = {key: np.array([f"g.h5#{start + i}" if key == "frame" else "g.h5" if key == "source" else
                               uid if key == "source_id" else "ok" if key == "status" else "" for i in range(k)])
                for key in ("frame", "source", "source_id", "status", "reason", "warnings")}
        np.savez(out / PARTS / f"{uid}.npz", **text, index=np.arange(start, start + k), number=number,
                 chi2=np.full(k, np.nan), phi=np.full(k, 0.3), phi_sigma=np.full(k, np.nan),
                 weighting=np.array(["dI"] * k), intervals=no_intervals(k), retried=np.full(k, np.nan),
                 dq_scale=np.full(k, np.nan), radius_scale=np.exp(rng.normal(0, 0.1, k)), content=np.array(""))
        units.append(Unit(uid, table=object(), rows=np.arange(start, start + k)))
    return units


# -- sasmodels curves with a low-q upturn (test_power_law, test_oversubtraction) ---------------------------------
QLAB = np.geomspace(0.005, 0.3, 300)
KNEE = 0.015           # the upturn equals the spheres here, and dominates below


def upturn_curve(radius, pd, exponent, seed=0, noise=0.01, phi=0.0):
    """(I, dI, power-law amplitude): Schulz spheres (sasmodels ``sphere``, scale 0.01; ``phi`` > 0: sphere@hardsphere
    at that volume fraction, R_eff the number mean) plus sasmodels' ``power_law`` A q^-exponent (A: equal to the
    spheres at KNEE; 0 without an exponent), 1 % noise."""
    pars = dict(radius=radius, radius_pd=pd, radius_pd_type="schulz", radius_pd_n=80, radius_pd_nsigma=8,
                background=0.0)
    spheres = (direct_curve("sphere", QLAB, scale=0.01, **pars) if not phi else direct_curve(
        "sphere@hardsphere", QLAB, scale=1.0, volfraction=phi, radius_effective_mode=1, **pars))
    amp = 0.0
    clean = spheres
    if exponent:
        amp = float(np.interp(KNEE, QLAB, spheres)) * KNEE**exponent
        clean = spheres + direct_curve("power_law", QLAB, power=exponent, scale=amp, background=0.0)
    di = noise * clean
    return clean + di * np.random.default_rng(seed).standard_normal(len(QLAB)), di, amp


def schulz_volume_mean(radius: float, pd: float) -> float:
    """The volume-weighted mean radius (A) of a Schulz number distribution: R (z + 4) / (z + 1), z = 1/pd^2 - 1."""
    z = 1 / pd**2 - 1
    return radius * (z + 4) / (z + 1)
