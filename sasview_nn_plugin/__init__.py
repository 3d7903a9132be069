"""Neural-network inversion of SAXS curves of concentrated polydisperse spheres into size distributions.

Public API: :func:`invert` -> :class:`Inversion`; :func:`load_model`; ``refine.refine``; the bumps
fitter ``nn-lm`` (registered as soon as ``bumps.fitters`` is imported).  Importing the package loads
numpy only; sasmodels, bumps, TensorFlow and matplotlib are imported by the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sasview_nn_plugin")   # pyproject.toml is the one place the version is set
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .fitting.fitter import register_when_bumps_loads  # noqa: E402
from .inference.invert import Inversion, invert  # noqa: E402
from .inference.modelfile import load_model  # noqa: E402

register_when_bumps_loads()  # the `nn-lm` bumps fitter, without importing bumps here

__all__ = ["Inversion", "invert", "load_model", "__version__"]
