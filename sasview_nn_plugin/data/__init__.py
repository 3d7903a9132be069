"""Data in and out: loading curves (ASCII, CanSAS XML, NXcanSAS, HDF5 frame tables) with their units,
atomic file writing, result writers and figures.  Takes paths; gives Curves and files.
"""
