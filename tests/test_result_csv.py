"""The per-curve result CSV (data/writers.py): `# key: value` lines with phi, its sigma and where it came from,
the check's chi2, flags and observable radii, the model and package version and the columns' units, then the
table with its column-name row; :func:`read_result_csv` reads both back, and the documented one-line recipes
read the table."""

from __future__ import annotations

import numpy as np
import pytest

from sasview_nn_plugin import __version__, invert
from sasview_nn_plugin.data.writers import read_result_csv, write_inversion
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.inference.modelfile import load_model


@pytest.fixture(scope="module")
def curve():
    from helpers import schulz_hs

    q = load_model().q
    clean = schulz_hs(q, 40.0)
    rng = np.random.default_rng(3)
    return q, clean * (1 + 0.01 * rng.standard_normal(len(q))), 0.01 * clean


def written(inv, tmp_path, stem="c"):
    _, csv = write_inversion(inv, tmp_path, stem)
    return csv, *read_result_csv(csv)


def test_given_phi_is_in_the_header_as_given_without_a_sigma(curve, tmp_path):
    inv = invert(*curve, volume_fraction=0.3)
    path, meta, cols = written(inv, tmp_path)
    assert float(meta["volume_fraction"]) == pytest.approx(0.3, rel=1e-12)
    assert meta["volume_fraction_source"] == "given" and meta["volume_fraction_sigma"] == "none"
    assert "volume_fraction_68" not in meta                           # only a refined phi has an interval
    assert float(meta["chi2_reduced"]) == pytest.approx(inv.quality.chi2_reduced, rel=1e-7)
    assert meta["quality_flags"] == ("none" if not inv.quality.flags else "; ".join(inv.quality.flags))
    lo, hi = (float(x) for x in meta["observable_radius_A"].split(","))
    assert (lo, hi) == pytest.approx(inv.quality.observable_radius, rel=1e-7)
    assert meta["model"] == inv.model and meta["package_version"] == __version__
    assert "radius_A" in meta["units"] and "A" in meta["units"]
    text = path.read_text().splitlines()
    n_meta = sum(1 for line in text if line.startswith("#"))
    assert all(line.startswith("# ") for line in text[:n_meta]) and len(text) == n_meta + 1 + len(inv.radius)
    assert text[n_meta] == "radius_A,number_distribution,volume_distribution"   # the column-name row follows


def test_estimated_phi_carries_its_sigma(curve, tmp_path):
    inv = invert(*curve, volume_fraction=None)
    _, meta, _ = written(inv, tmp_path)
    assert inv.volume_fraction_sigma is not None
    assert float(meta["volume_fraction"]) == pytest.approx(inv.volume_fraction, rel=1e-7)
    assert float(meta["volume_fraction_sigma"]) == pytest.approx(inv.volume_fraction_sigma, rel=1e-7)
    assert meta["volume_fraction_source"] == "estimated"
    js = inv.to_dict()   # the same numbers as the JSON
    assert js["volume_fraction_estimated"] and float(meta["volume_fraction_sigma"]) == pytest.approx(
        js["volume_fraction_sigma"], rel=1e-7)


def test_without_dI_the_chi2_is_none(curve, tmp_path):
    q, i, _ = curve
    _, meta, _ = written(invert(q, i, volume_fraction=0.3), tmp_path)
    assert meta["chi2_reduced"] == "none"


def test_the_table_round_trips_and_the_documented_recipes_read_it(curve, tmp_path):
    inv = invert(*curve, volume_fraction=0.3)
    path, _, cols = written(inv, tmp_path)
    assert list(cols) == ["radius_A", "number_distribution", "volume_distribution"]
    np.testing.assert_allclose(cols["radius_A"], inv.radius, rtol=1e-7)   # %.8g
    np.testing.assert_allclose(cols["number_distribution"], inv.number_distribution, rtol=1e-7, atol=1e-300)
    np.testing.assert_allclose(cols["volume_distribution"], inv.volume_distribution, rtol=1e-7, atol=1e-300)
    table = np.loadtxt(path, delimiter=",", comments=("#", "radius_A"))     # docs/batch.md's numpy recipe
    np.testing.assert_array_equal(table, np.column_stack(list(cols.values())))
    import csv

    with open(path, newline="") as fh:                                       # ... and the csv-module recipe
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert len(rows) == len(inv.radius) and float(rows[5]["radius_A"]) == cols["radius_A"][5]


def test_a_file_that_is_not_a_result_csv_is_refused(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("# only: comments\n")
    with pytest.raises(InputError, match="`path`"):
        read_result_csv(p)
