"""Arguments are checked on entry (issue 27, item 6): each refusal is an InputError naming its parameter
explicitly, raised before any work (no fit runs for a bad refine argument)."""

from __future__ import annotations

import numpy as np
import pytest

from sasview_nn_plugin.data.curve import Curve
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.inference.result import Distribution, Inversion, Uncertainty

Q = np.geomspace(0.03, 0.15, 200)
R = np.geomspace(9.0, 99.0, 50)


def hand_made_start() -> Inversion:
    """A start made by hand (a Schulz-like bump at 40 A) on a power-law curve: no network involved."""
    w = np.exp(-0.5 * ((R - 40.0) / 5.0) ** 2)
    return Inversion(Distribution(R, w / w.sum()), 0.2, "hand-made", Curve.from_arrays(Q, Q ** -4 + 1.0), (0.04, 0.1))


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(samples=0), "samples"), (dict(samples=1.5), "samples"), (dict(steps=-5), "steps"),
    (dict(method="lmm"), "method"), (dict(parametrization="schultz3"), "parametrization"),
    (dict(q_range=(0.1, 0.05)), "q_range"), (dict(volume_fraction_sigma=-1), "volume_fraction_sigma"),
    (dict(dq_scale_sigma=float("nan")), "dq_scale_sigma"),
])
def test_refine_refuses_bad_arguments_before_any_fit(kwargs, parameter, monkeypatch):
    from sasview_nn_plugin.fitting import refine as mod

    def no_fit(*a, **k):
        raise AssertionError("a fit ran before the arguments were checked")

    monkeypatch.setattr(mod, "_attempt", no_fit)
    with pytest.raises(InputError) as exc:
        mod.refine(hand_made_start(), **kwargs)
    assert exc.value.parameter == parameter
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("level", [90, 50, "95"])
def test_an_interval_level_other_than_68_or_95_is_refused(level):
    u = Uncertainty(np.zeros((2, 3)), np.zeros((2, 3)), 1.0, 1.0,
                    intervals={"mean_radius_number": (38.0, 39.0, 41.0, 42.0)})
    assert u.interval("mean_radius_number", 68) == (39.0, 41.0)
    assert u.interval("mean_radius_number", 95) == (38.0, 42.0)
    with pytest.raises(InputError) as exc:
        u.interval("mean_radius_number", level)
    assert exc.value.parameter == "level"


def test_input_errors_carry_their_parameter_explicitly():
    """The parameter is given, not parsed from the message: a message naming another word in backticks keeps it."""
    e = InputError("`q` is not sorted; sort the points", parameter="data")
    assert e.parameter == "data"
    for make, parameter in ((lambda: Curve.from_arrays(Q, Q, dq=-Q), "dq"),
                            (lambda: Curve.from_arrays(Q, Q, dq=Q[:5]), "dq"),
                            (lambda: Curve.from_arrays(Q, Q, slit_length=-1.0), "slit_length")):
        with pytest.raises(InputError) as exc:
            make()
        assert exc.value.parameter == parameter
