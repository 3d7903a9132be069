"""The real-data regression set (issue 26 item 5 and its acceptance): every manifest entry, both models.

Reads ``tests/data/real/manifest.json`` (provenance: ``tests/data/real/README.md``), inverts each curve with the
windowed (``default``) and the whole-curve (``wide``) model, with the volume fraction estimated (``auto``), given
where documented, and 0 where the sample is documented dilute, and prints one line per run and the totals:
measured curves in the model (right, right but flagged, wrong but flagged, silent = wrong and unflagged, refused),
measured samples outside the model or outside the window (caught = flagged or refused, silent), and the synthetic
examples apart.  The verdict rules are ``tests/real_data.py``'s, which ``tests/test_real_data.py`` asserts.

    nice python benchmarks/bench_real.py [--json out.json] [--model default|wide]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("SAS_OPENCL", "none")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import real_data  # noqa: E402  (tests/real_data.py: the manifest and the verdict rules)


def _fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def table(runs: list[real_data.Run], entries: dict[str, dict]) -> str:
    lines = [f"{'entry':22} {'group':9} {'expect':7} {'model':7} {'phi':5} {'ref A':>7} {'read A':>8} "
             f"{'phi est':>7}  {'verdict':14} flags"]
    for r in runs:
        e = entries[r.entry]
        flags = ",".join(r.flags) + (" [approximate]" if r.approximate else "")
        lines.append(f"{r.entry:22} {e['group']:9} {str(e.get('expect')):7} {r.model:7} {r.phi:5} "
                     f"{_fmt(r.reference):>7} {_fmt(r.radius, '.1f'):>8} {_fmt(r.phi_estimated, '.3f'):>7}  "
                     f"{r.verdict:14} {flags or r.detail[:90] or '-'}")
    return "\n".join(lines)


def totals(runs: list[real_data.Run], entries: dict[str, dict]) -> str:
    lines = []
    for model in sorted({r.model for r in runs}):
        for phi_kind in ("auto", "given"):
            sel = [r for r in runs if r.model == model and ((r.phi == "auto") == (phi_kind == "auto"))]
            if not sel:
                continue
            for group in ("measured", "synthetic"):
                rights = [r for r in sel if entries[r.entry]["group"] == group
                          and entries[r.entry].get("expect") == "right"]
                outs = [r for r in sel if entries[r.entry]["group"] == group
                        and entries[r.entry].get("expect") == "caught"]
                c_in, c_out = Counter(r.verdict for r in rights), Counter(r.verdict for r in outs)
                if rights:
                    n = len(rights)
                    lines.append(
                        f"{model:7} phi {phi_kind:5} {group:9} in model     n={n:2}: right {c_in['right']:2} "
                        f"({100 * c_in['right'] / n:3.0f} %), right-flagged {c_in['right-flagged']:2}, "
                        f"wrong-flagged {c_in['wrong-flagged']:2}, silent {c_in['silent']:2}, "
                        f"refused {c_in['refused']:2}")
                if outs:
                    n = len(outs)
                    caught = c_out["caught"] + c_out["refused"]
                    lines.append(
                        f"{model:7} phi {phi_kind:5} {group:9} out/unseen   n={n:2}: caught {caught:2} "
                        f"({100 * caught / n:3.0f} %; flagged {c_out['caught']}, refused {c_out['refused']}), "
                        f"silent {c_out['silent']:2}")
    return "\n".join(lines)


def acceptance(runs: list[real_data.Run], entries: dict[str, dict]) -> str:
    """Issue 26's lines, per model, on the measured curves (phi estimated: what a user without phi gets)."""
    lines = []
    for model in sorted({r.model for r in runs}):
        sel = [r for r in runs if r.model == model and r.phi == "auto" and entries[r.entry]["group"] == "measured"]
        rights = [r for r in sel if entries[r.entry].get("expect") == "right"]
        outs = [r for r in sel if entries[r.entry].get("expect") == "caught"]
        every = [r for r in runs if r.model == model and entries[r.entry]["group"] == "measured"]
        frac = sum(r.verdict == "right" for r in rights) / max(1, len(rights))
        silent = sum(r.verdict == "silent" for r in every)
        caught = sum(r.verdict in ("caught", "refused") for r in outs)
        lines.append(f"{model:7}: right and unflagged {100 * frac:.0f} % of {len(rights)} (>= 70 %: "
                     f"{'PASS' if frac >= 0.7 else 'FAIL'}); silent {silent} of {len(every)} runs (0: "
                     f"{'PASS' if silent == 0 else 'FAIL'}); outside the model or window caught {caught} of "
                     f"{len(outs)} ({'PASS' if caught == len(outs) else 'FAIL'})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write every run as JSON here")
    ap.add_argument("--model", choices=real_data.MODELS, action="append", help="only this model (repeatable)")
    args = ap.parse_args(argv)
    entries = {e["id"]: e for e in real_data.manifest()}
    t0 = time.time()
    runs = real_data.run_all(models=tuple(args.model or real_data.MODELS))
    print(table(runs, entries))
    print("\nTotals (phi auto: estimated; given: the documented value or 0 for documented dilute samples)")
    print(totals(runs, entries))
    print("\nAcceptance (issue 26), measured curves, phi estimated; silent counted over every phi setting")
    print(acceptance(runs, entries))
    print(f"\n{len(runs)} runs in {time.time() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in runs], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
