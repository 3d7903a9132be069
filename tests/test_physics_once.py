"""Each piece of physics is written once (issue 27, "Physics once"): sphere F^2, the Percus-Yevick S(q) and the
power law in physics/scattering.py, pinhole and slit smearing in physics/smearing.py.  The rest of the package
calls them (or sasmodels itself); the SasView plugin model holds a generated, verbatim copy that must be current.
A grep of the package's source for the formulas' defining names and their arithmetic, so that a second copy
cannot creep back unnoticed.  Each function is tested against sasmodels in tests/test_physics.py and
tests/test_slit.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sasview_nn_plugin.sasview import plugin_model_path, plugin_source

PACKAGE = Path(__file__).resolve().parents[1] / "sasview_nn_plugin"
SCATTERING = "physics/scattering.py"
SMEARING = "physics/smearing.py"

# module-level functions that compute a piece of physics -> the one file allowed to define them
DEFINITIONS = {
    "sphere_form": SCATTERING, "sphere_form_factor": SCATTERING, "sphere_f2": SCATTERING,
    "py_coefficients": SCATTERING, "hardsphere_sq": SCATTERING, "hardsphere_denominator": SCATTERING,
    "inverse_powers": SCATTERING, "power_law": SCATTERING, "structure_factor": None,
    "smearing": SMEARING, "banded": SMEARING, "pinhole_q_calc": SMEARING, "pinhole_weights": SMEARING,
    "slit_q_calc": SMEARING, "slit_weights": SMEARING, "slit_resolution": SMEARING,
}
# Resolution weights are built by physics/smearing.py alone (the check, the polish and the refinement's
# fitting/resolution.py call it).  sasmodels' own weight builders are called only by the training simulators, whose
# sets must stay bit-identical to those already made: the windowed one through physics/kernels.pinhole_resolution
# (called from training/simulate.py alone), the whole-curve one in training/wide_simulate.py.
SASMODELS_WEIGHTS = r"\b(?:Pinhole1D|Slit1D|Pinhole2D|pinhole_resolution|slit_resolution|pinhole_extend_q)\b"
SIMULATORS = {"physics/kernels.py": {"pinhole_resolution", "Pinhole1D"},
              "training/wide_simulate.py": {"Pinhole1D", "Slit1D"}}
# the formulas' own arithmetic -> the one file allowed to contain it
FORMULAS = {
    "sphere amplitude 3 (sin x - x cos x) / x^3": (r"sin\((\w+)\) - \1 \* (?:np\.)?cos\(\1\)", SCATTERING),
    "sphere amplitude's small-x series": (r"1(?:\.0)? - (\w+) \* \1 / 10|\(-0\.1 \+", SCATTERING),
    "Percus-Yevick 1 / (1 - phi)^2": (r"/ \(1(?:\.0)? - \w+\) \*\* ?[24]", SCATTERING),
    "Percus-Yevick B = -6 phi (1 + phi/2)^2": (r"-6(?:\.0)? \* \w+ \* \(\(?1(?:\.0)? \+ 0\.5", SCATTERING),
    "Percus-Yevick 24 G / X^2": (r"24(?:\.0)? \* g\b", SCATTERING),
    "hardsphere.c's Taylor series": (r"a / 35(?:\.0)?", SCATTERING),
    "Gaussian pinhole weights (erf of the cut segments)": (r"_?erf\(u2\) - _?erf\(u1\)", SMEARING),
    "slit weights sqrt(q^2 + l^2)": (r"sqrt\(\w+\*\*2 \+ \w+\*\*2\)", SMEARING),
}


def _sources() -> dict[str, str]:
    """Every module of the package (relative path -> text); the plugin model without its generated block."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text(encoding="utf-8")
        if path == plugin_model_path():
            before, _, after = plugin_source.split(text)
            text = before + after
        out[rel] = text
    return out


def test_the_plugin_model_holds_the_current_generated_copy():
    """Regenerate with ``python -m sasview_nn_plugin.sasview.plugin_source`` after changing physics/scattering.py."""
    text = plugin_model_path().read_text(encoding="utf-8")
    assert plugin_source.split(text)[1] == plugin_source.generated_block()
    assert text == plugin_source.current_text()


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_each_physics_function_is_defined_once(name):
    where = sorted(rel for rel, text in _sources().items() if re.search(rf"^def {name}\(", text, re.M))
    assert where == ([DEFINITIONS[name]] if DEFINITIONS[name] else []), where


@pytest.mark.parametrize("what", sorted(FORMULAS))
def test_each_formula_is_written_once(what):
    pattern, home = FORMULAS[what]
    where = sorted(rel for rel, text in _sources().items() if re.search(pattern, text))
    assert where == [home], f"{what}: {where}"


def _code(text: str) -> str:
    """Python source without its comments and string literals (docstrings name sasmodels' classes freely)."""
    import io
    import tokenize

    keep = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.COMMENT, tokenize.STRING)]
    return " ".join(t.string for t in keep)


def test_resolution_weights_are_built_in_physics_smearing_only():
    """No module but physics/smearing.py builds pinhole (or slit) weights: sasmodels' builders (``Pinhole1D``,
    ``Slit1D``, ``pinhole_resolution``, ...) appear in code only in the training simulators' allowed places, and the
    package's own ``slit_resolution`` is called, never redefined (DEFINITIONS)."""
    found = {}
    for rel, text in _sources().items():
        names = set(re.findall(SASMODELS_WEIGHTS, _code(text)))
        if rel == SMEARING or "physics.smearing import" in text:
            names -= {"slit_resolution"}   # its own function, or called from it
        if rel == "training/simulate.py":
            names -= {"pinhole_resolution"} if "physics.pinhole_resolution(" in text else set()
        if names:
            found[rel] = names
    assert found == SIMULATORS, found
    callers = sorted(rel for rel, text in _sources().items()
                     if re.search(r"\bpinhole_resolution\s*\(", _code(text)) and rel != "physics/kernels.py")
    assert callers == ["training/simulate.py"], callers


def test_the_refinement_smears_with_physics_smearing():
    """fitting/resolution.py's weights are physics.smearing's (no sasmodels import there), and the fitness uses it."""
    text = (PACKAGE / "fitting/resolution.py").read_text(encoding="utf-8")
    assert "from ..physics.smearing import" in text and "sasmodels" not in _code(text)
    assert "ScaledPinhole(" in (PACKAGE / "fitting/fitness.py").read_text(encoding="utf-8")


def test_the_grep_sees_a_copy():
    """The patterns are not vacuous: the plugin's generated block alone holds every scattering formula."""
    block = plugin_source.generated_block()
    for what, (pattern, home) in FORMULAS.items():
        if home == SCATTERING:
            assert re.search(pattern, block), what
