"""Why refinement does not help top-hats much: the network draws a wide top-hat as two horns (a narrow one as a
peak), and the smooth correction, fitting the sharp edges' signal, deepens the horns or sharpens the peak
(docs/refine.md).

Draws bench_calibration's ``auto`` top-hat curves (seed 21: truths on the 10x finer grid, phi estimated) and plots,
for the first six that refinement makes worse by W1 > 0.01 A, the truth, the network's answer and the refined one.

    python benchmarks/plot_tophat_refinement.py [--out docs/img/tophat_refinement.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from bench_calibration import FAMILIES, make_curves, w1  # noqa: E402

from sasview_nn_plugin.fitting.refine import refine  # noqa: E402
from sasview_nn_plugin.inference.invert import invert  # noqa: E402
from sasview_nn_plugin.inference.modelfile import load_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/img/tophat_refinement.png")
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()
    nn = load_model("default")
    rng = np.random.default_rng(args.seed)
    for fam in FAMILIES:   # the bench's draw order: the top-hats are those bench_calibration draws
        curves = make_curves(nn, fam, 34, rng, "given")
        if fam == "tophat":
            break
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    shown = 0
    for c in curves:
        start = invert(c["q"], c["i"], c["di"], volume_fraction=None, model=nn, dq=c["dq"])
        ref = refine(c["q"], c["i"], c["di"], start, dq=c["dq"])
        before, after = (w1(x.radius, x.number_distribution, c["r"], c["w"]) for x in (start, ref))
        if after - before <= 0.01:
            continue
        ax = axes.flat[shown]
        step = start.radius[1] - start.radius[0]
        ax.plot(c["r"], c["w"] * step / (c["r"][1] - c["r"][0]), "k-", label="truth")
        ax.plot(start.radius, start.number_distribution, "b.-", ms=3, label=f"network (W1 {before:.2f} A)")
        ax.plot(ref.radius, ref.number_distribution, "r.-", ms=3, label=f"refined (W1 {after:.2f} A)")
        inside = c["r"][c["w"] > 0]
        ax.set_xlim(inside[0] - 15, inside[-1] + 15)
        ax.set_xlabel("radius (A)")
        ax.set_ylabel("number per model bin")
        ax.legend(fontsize=7, loc="upper right")
        shown += 1
        if shown == axes.size:
            break
    fig.suptitle(f"auto top-hats (bench_calibration seed {args.seed}) that refinement makes worse:\nthe smooth "
                 "correction cannot make the edges; it deepens the network's horns or sharpens its peak", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out} ({shown} curves)")


if __name__ == "__main__":
    main()
