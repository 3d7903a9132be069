"""Neural-network inversion of SAXS curves of concentrated polydisperse spheres into size distributions."""

__version__ = "0.1.0"
