"""Neural-network inversion of SAXS curves of concentrated polydisperse spheres into size distributions.

Public API: :func:`invert` -> :class:`Inversion`; :func:`load_model`; ``fitting.refine.refine``; the
bumps fitters ``nn-lm`` and ``nn-dream`` (registered by ``import sasview_nn_plugin.fitting.fitter``).
Importing the package loads numpy only; sasmodels, bumps, TensorFlow and matplotlib are imported by
the modules and functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sasview_nn_plugin")   # pyproject.toml is the one place the version is set
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .inference.invert import Inversion, invert  # noqa: E402
from .inference.modelfile import load_model  # noqa: E402

__all__ = ["Inversion", "invert", "load_model", "__version__"]
