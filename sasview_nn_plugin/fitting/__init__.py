"""Fitting with bumps and sasmodels: refinement from the network's start, the nn-lm fitter,
parametric heads and the identifiability map.  Takes a curve and an Inversion; gives a refined one.
"""
