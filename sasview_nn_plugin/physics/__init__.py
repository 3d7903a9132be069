"""The physics: q and radius grids, sasmodels-backed kernels (sphere basis, Percus-Yevick S(q)), sasmodels' sticky
hard-sphere and fractal models in numpy (structure, polydisperse), distributions and number<->volume weights.
Takes grids and parameters; gives arrays (1/A, A).
"""
