"""A second forward model: Mie backscatter of log-normal sphere populations (Lam et al., Opt. Lett. 1990).
Takes wavelengths and (r_m, sigma) sets; gives the 1990 inversion reproduced (allowable region, figures).

It shares the training core (:func:`sasview_nn_plugin.training.train.fit_dense`) with the SAXS networks and
nothing else: the SAXS path never imports this package.
"""
