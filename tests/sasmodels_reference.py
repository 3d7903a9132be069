"""sasmodels' own evaluation of sphere@hardsphere with an array radius distribution (test oracle)."""

from __future__ import annotations

import numpy as np
from sasmodels.core import load_model
from sasmodels.details import make_kernel_args
from sasmodels.direct_model import get_mesh


def sasmodels_sphere_hs(q, radius, weights, phi, scale=1.0, background=0.0, sld=1.0, sld_solvent=6.0):
    """I(q) from the sphere@hardsphere kernel with the radius mesh replaced by (radius, weights)."""
    model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    kernel = model.make_kernel([np.asarray(q, dtype=float)])
    pars = dict(scale=scale, background=background, sld=sld, sld_solvent=sld_solvent, radius=50.0,
                volfraction=phi, radius_effective_mode=1, structure_factor_mode=0)
    mesh = get_mesh(model.info, pars, dim="1d")
    names = [p.name for p in model.info.parameters.call_parameters]
    mesh[names.index("radius")] = (50.0, np.asarray(radius, dtype=float), np.asarray(weights, dtype=float))
    details, values, magnetic = make_kernel_args(kernel, mesh)
    try:
        return kernel(details, values, 0.0, magnetic)
    finally:
        kernel.release()
