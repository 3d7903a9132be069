"""How the two fitted references of manifest.json were made (aot_core, aot_drop): sasmodels + bumps, not this project.

A plain SasView-style fit of each file: ``sphere@hardsphere`` (radius_effective_mode=1, structure_factor_mode=0),
Schulz radius polydispersity (40 points), scale, flat background, volume fraction free in 0-0.5, bumps
Levenberg-Marquardt over every point with dI > 0.  Not run by the tests (it needs bumps and sasmodels, ~10 s):

    python tests/data/real/fit_references.py

Printed 2026-12-06 (sasmodels 1.0.x, bumps 1.0.x): core radius 26.7 A (pd 0.23, phi 0.10, chi2 1.4), drop radius
30.8 A (pd 0.22, phi 0.08, chi2 1.9); without S(q): 26.7 A (chi2 4.4), 30.6 A (chi2 35).  The radius of a Schulz
distribution is its number mean; the manifest compares its volume-weighted mean <R^4>/<R^3> = R (z+4)/(z+1),
z = 1/pd^2 - 1 (printed too: core 30.9 A, drop 35.4 A; README.md says why).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from bumps.fitters import fit
from bumps.names import FitProblem
from sasmodels.bumps_model import Experiment, Model
from sasmodels.core import load_model
from sasmodels.data import load_data

HERE = Path(__file__).resolve().parent
FILES = (("AOT_Microemulsion-Core_Contrast.xml", 30.0), ("AOT_Microemulsion-Drop_Contrast.xml", 35.0))


def fit_one(name: str, start: float, structure: bool = True) -> dict:
    data = load_data(str(HERE / name))
    data.dy = np.where(data.dy > 0, data.dy, np.inf)   # the last point has dI = 0: not weighed
    kernel = load_model("sphere@hardsphere" if structure else "sphere")
    pars = dict(scale=0.01, background=0.1, sld=1.0, sld_solvent=6.36, radius=start, radius_pd=0.15,
                radius_pd_n=40, radius_pd_type="schulz")
    if structure:
        pars.update(volfraction=0.1, radius_effective_mode=1, structure_factor_mode=0)
    model = Model(kernel, **pars)
    model.scale.range(0, 10)
    model.background.range(-1, 10)
    model.radius.range(5, 200)
    model.radius_pd.range(0.01, 0.6)
    if structure:
        model.volfraction.range(0, 0.5)
    problem = FitProblem(Experiment(data=data, model=model))
    result = fit(problem, method="lm", steps=400, verbose=False)
    problem.setp(result.x)
    return {"radius": model.radius.value, "radius_pd": model.radius_pd.value, "chi2": problem.chisq(),
            "volfraction": model.volfraction.value if structure else 0.0}


def volume_mean(radius: float, pd: float) -> float:
    """<R^4>/<R^3> (A) of a Schulz number distribution of mean ``radius`` (A) and relative width ``pd``."""
    z = 1 / pd**2 - 1
    return radius * (z + 4) / (z + 1)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    for name, start in FILES:
        for structure in (True, False):
            r = fit_one(name, start, structure)
            print(f"{name:40} {'sphere@hardsphere' if structure else 'sphere':18} radius {r['radius']:6.1f} A  "
                  f"pd {r['radius_pd']:.2f}  phi {r['volfraction']:.2f}  chi2 {r['chi2']:.1f}  "
                  f"volume mean {volume_mean(r['radius'], r['radius_pd']):6.1f} A")
