"""The generated part of the plugin model ``nn_spheres_hs.py``: the physics it computes with, copied verbatim from
:mod:`..physics.scattering` (SasView loads the plugin file alone, without this package, so it cannot import them).

After changing those functions, rewrite the copy::

    python -m sasview_nn_plugin.sasview.plugin_source

tests/test_sasview_plugin_model.py fails while the shipped file's copy is not :func:`generated_block`'s.
"""

from __future__ import annotations

import inspect
import sys

from ..physics import scattering
from . import plugin_model_path

FUNCTIONS = ("sphere_form", "sphere_form_factor", "py_coefficients", "_sincos", "hardsphere_sq", "power_law")
CONSTANTS = ("DEFAULT_SLD", "DEFAULT_SLD_SOLVENT")
BEGIN = ("# -- generated from physics/scattering.py by `python -m sasview_nn_plugin.sasview.plugin_source`; "
         "do not edit --")
END = "# -- end of the generated code --"


def generated_block() -> str:
    """The lines from BEGIN to END (inclusive) that the plugin file must hold."""
    consts = "\n".join(f"{name} = {getattr(scattering, name)!r}" for name in CONSTANTS)
    funcs = "\n\n\n".join(inspect.getsource(getattr(scattering, name)).rstrip("\n") for name in FUNCTIONS)
    return f"{BEGIN}\n{consts}\n\n\n{funcs}\n{END}"


def split(text: str) -> tuple[str, str, str]:
    """(before, block, after) of a plugin file's text around its generated block."""
    start = text.index(BEGIN)
    stop = text.index(END, start) + len(END)
    return text[:start], text[start:stop], text[stop:]


def current_text() -> str:
    """The plugin file's text with its generated block as :func:`generated_block` makes it now."""
    before, _, after = split(plugin_model_path().read_text(encoding="utf-8"))
    return before + generated_block() + after


def main() -> int:
    path = plugin_model_path()
    new = current_text()
    if new == path.read_text(encoding="utf-8"):
        print(f"{path}: up to date")
        return 0
    path.write_text(new, encoding="utf-8")
    print(f"{path}: generated block rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
