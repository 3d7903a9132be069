"""Regenerate the bundled example data (seeded).  All at volume fraction 0.3.

- sasfit_schulz_R20_phi0.3.txt: SASfit's polydisperse sphere + PY S(q) curve (Schulz, R = 20 A,
  pd 0.1, phi 0.3) from ../shared/reference/sasfit, as q I columns (independent program).
Every curve has its true distribution on the model's radius bins beside it in <stem>_truth.csv
(radius_A, number_distribution, volume_distribution).
- bimodal_phi0.3.xml: sasmodels sphere@hardsphere (array distribution: 70 % of the volume in a
  Schulz mode at 30 A, pd 0.08, 30 % at 60 A, pd 0.06), 1 % noise, dI, CanSAS XML; the true number
  distribution is in bimodal_phi0.3_truth.csv.
- schulz_R45_phi0.3_nxcansas.h5: sasmodels sphere@hardsphere with Schulz R = 45 A, pd 0.12
  (sasmodels' own dispersion), 2 % noise, 400 log-spaced points over 0.03-0.15 1/A, NXcanSAS.

    python examples/make_examples.py
"""

from pathlib import Path

import numpy as np
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel

from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parents[1] / "shared" / "reference" / "sasfit"


def sasmodels_array(q, radius, weights, phi):
    from sasmodels.details import make_kernel_args
    from sasmodels.direct_model import get_mesh

    model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    kernel = model.make_kernel([q])
    pars = dict(radius=50.0, volfraction=phi, radius_effective_mode=1, structure_factor_mode=0)
    mesh = get_mesh(model.info, pars, dim="1d")
    names = [p.name for p in model.info.parameters.call_parameters]
    mesh[names.index("radius")] = (50.0, radius, weights)
    return kernel(*make_kernel_args(kernel, mesh)[:2], 0.0, False)


def write_truth(stem: str, number) -> None:
    r = RadiusGrid().radius
    np.savetxt(HERE / f"{stem}_truth.csv", np.column_stack([r, number, physics.number_to_volume(number, r)]),
               delimiter=",", header="radius_A,number_distribution,volume_distribution", comments="")


def schulz_bins(mean, pd):
    return distributions.bin_mass(distributions.schulz_cdf, RadiusGrid(), np.array([mean]), np.array([pd]))[0]


def main() -> None:
    rng = np.random.default_rng(2024)
    src = REFERENCE / "sasfit_sphere_schulz_IQSD.txt"
    if src.exists():
        data = np.loadtxt(src, delimiter=";", usecols=(0, 1))
        save_curve(HERE / "sasfit_schulz_R20_phi0.3.txt", data[:, 0], data[:, 1],
                   title="SASfit: sphere R=20 A Schulz pd=0.1, PY hard spheres phi=0.3 (decoupling); "
                         "from sasmodels explore/beta/data_files")
        write_truth("sasfit_schulz_R20_phi0.3", schulz_bins(20.0, 0.1))

    grid = RadiusGrid()
    r = grid.radius
    v1 = physics.number_to_volume(distributions.bin_mass(distributions.schulz_cdf, grid, [30.0], [0.08]), r)
    v2 = physics.number_to_volume(distributions.bin_mass(distributions.schulz_cdf, grid, [60.0], [0.06]), r)
    w = physics.volume_to_number(0.7 * v1 + 0.3 * v2, r)[0]
    q = np.linspace(0.035, 0.11, 300)
    clean = sasmodels_array(q, r, w, 0.3)
    di = 0.01 * clean
    save_curve(HERE / "bimodal_phi0.3.xml", q, clean + di * rng.standard_normal(len(q)), di, fmt="xml",
               title="sasmodels sphere@hardsphere, bimodal array distribution, phi=0.3, 1% noise")
    write_truth("bimodal_phi0.3", w)

    q = np.geomspace(0.03, 0.15, 400)
    model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    clean = call_kernel(model.make_kernel([q]), dict(
        radius=45.0, radius_pd=0.12, radius_pd_type="schulz", radius_pd_n=80, radius_pd_nsigma=8,
        volfraction=0.3, radius_effective_mode=1, structure_factor_mode=0))
    di = 0.02 * clean
    save_curve(HERE / "schulz_R45_phi0.3_nxcansas.h5", q, clean + di * rng.standard_normal(len(q)), di, fmt="h5",
               title="sasmodels sphere@hardsphere, Schulz R=45 A pd=0.12, phi=0.3, 2% noise")
    write_truth("schulz_R45_phi0.3_nxcansas", schulz_bins(45.0, 0.12))


if __name__ == "__main__":
    main()
