"""Neural-network inversion of SAXS curves of concentrated polydisperse spheres into size distributions.

The front door, as sasmodels' ``core``::

    from sasview_nn_plugin import Curve, invert, refine, model_curve
    curve = Curve.from_arrays(q, intensity, dI, dq)   # or load_curves(path)[0], Curve.from_data1d(data1d)
    result = invert(curve, volume_fraction=0.3)        # an Inversion: keeps its curve
    refined = refine(result)                           # a bumps fit of the same points, nothing passed again
    model_curve(refined)                               # sasmodels sphere@hardsphere of the result

:func:`invert`, :func:`invert_many` -> :class:`Inversion`; :func:`refine`; :func:`model_curve`;
:func:`load_model`; :class:`Curve` and :func:`load_curves`; the bumps fitters ``nn-lm`` and ``nn-dream``
(registered by ``import sasview_nn_plugin.fitting.fitter``).  Importing the package loads numpy and h5py
only; ``refine`` and ``model_curve`` (bumps, sasmodels) are imported when first used, TensorFlow and
matplotlib by the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sasview_nn_plugin")   # pyproject.toml is the one place the version is set
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .data.curve import Curve  # noqa: E402
from .inference.invert import invert, invert_many  # noqa: E402
from .inference.modelfile import load_model  # noqa: E402
from .inference.result import Inversion  # noqa: E402

_LAZY = {"refine": "fitting.refine", "model_curve": "fitting.curves", "load_curves": "data.load"}

__all__ = ["Curve", "Inversion", "invert", "invert_many", "load_curves", "load_model", "model_curve", "refine",
           "__version__"]


def __getattr__(name: str):
    """``refine``, ``model_curve`` and ``load_curves`` import bumps, sasmodels and sasdata: loaded on first use."""
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
