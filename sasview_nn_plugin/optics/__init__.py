"""A second forward model: Mie backscatter of log-normal sphere populations (Lam et al., Opt. Lett. 1990).

It shares the training core (:func:`sasview_nn_plugin.training.train.fit_dense`) with the SAXS networks and
nothing else: the SAXS path never imports this package.
"""
