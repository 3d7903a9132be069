"""Neural-network inversion of SAXS curves of concentrated polydisperse spheres into size distributions.

Public API: :func:`invert` -> :class:`Inversion`; :func:`load_model`.  Importing the package loads
numpy only; sasmodels, TensorFlow and matplotlib are imported by the functions that need them.
"""

__version__ = "0.1.0"

from .invert import Inversion, invert  # noqa: E402
from .modelfile import load_model  # noqa: E402

__all__ = ["Inversion", "invert", "load_model", "__version__"]
