"""Runs: what `invert` and `batch` share around the inversion itself.

Takes input paths and an output directory; gives the guards (lock, inputs never overwritten, input
identity for resuming) and the run files (summary.csv as real CSV, NeXus results.h5).
"""
