"""How npsize10_*.txt here were made from pySAXS's example data set npSIZE-10-Diamond-LIONS-PTB.xml (copied here).

The XML (pySAXS's own "dataset" format, which the loader does not read) holds three measured SAXS curves of one
sample, nPSize10 (silica spheres in water: the fits' SLDs 18.62e10 and 9.396e10 cm^-2 are SiO2's and water's for
X-rays), from three instruments: PTB (its comment: ``(hdf_fcm_2020kw12_00040_Sample-X_32.1.dat/500)-0.016``), CEA
LIONS (absolute scale, the laboratory's Xeuss; ``OT-2019-11-05-NPSIZE10-14400s.TIFF scaled``) and Diamond I22
(``(i22-546968_saxs_00000.dat/6e14)-1.6e-2``), each with the curators' fit of pySAXS's ``SphereOTBackgdBC``
(Gaussian-polydisperse spheres convolved with the beam): mean diameter 50.78, 50.56, 50.06 nm.

For each instrument this writes q, I, dI exactly as the XML has them (Python's repr of each float), the points
inside the q range of that instrument's fit only (the curators' range: it leaves out PTB's beam-stop points at
q < 0.0034 1/A and LIONS's noisy tail beyond 0.13 1/A).  q is in 1/A (pySAXS's unit; the form-factor minima at
q = 0.0179, 0.0305, 0.0439 1/A are a sphere's for R = 249-253 A).  Run from anywhere (standard library only):

    python tests/data/real/extract_npsize10.py

and the three files are rewritten identically (SHA-256 in README.md).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "npSIZE-10-Diamond-LIONS-PTB.xml"
CURVES = {"PTB": ("npsize10_ptb.txt", "I on an arbitrary scale (PTB's curve / 500, minus 0.016)"),
          "LIONS NPSIZE10": ("npsize10_lions.txt", "I(1/cm), absolute scale"),
          "DIAMOND I22": ("npsize10_diamond.txt", "I on an arbitrary scale (I22's curve / 6e14, minus 0.016)")}


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    root = ET.parse(SOURCE).getroot()
    data = {d.get("name"): d for d in root.findall("data")}
    for name, (out, intensity) in CURVES.items():
        fitted = data[f"{name}-Spheres polydisperses with beam convolution model"]
        q_fit = _floats(fitted.find("q").text)
        lo, hi = min(q_fit), max(q_fit)
        d = data[name]
        q, i, di = (_floats(d.find(k).text) for k in ("q", "i", "error"))
        pars = {p.text.strip(): p.get("value") for p in fitted.find("model").findall("par")}
        diameter, sigma = pars["Mean Diameter(nm)"], pars["Sigma (nm)"]
        lines = [f"# nPSize10 silica spheres in water, SAXS, {name}: extracted by extract_npsize10.py from pySAXS "
                 "3.291's",
                 "# saxsdata/npSIZE-10-Diamond-LIONS-PTB.xml (CeCILL, LICENSE-pySAXS.txt), the points of the "
                 "curators' fit range;",
                 f"# their SphereOTBackgdBC fit: mean diameter {diameter} nm, sigma {sigma} nm",
                 f"# {intensity}",
                 "# q(1/A) I dI"]
        lines += [f"{a!r} {b!r} {c!r}" for a, b, c in zip(q, i, di, strict=True) if lo <= a <= hi]
        (HERE / out).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(out, len(lines) - 5, "points, q", lo, "-", hi)


if __name__ == "__main__":
    main()
