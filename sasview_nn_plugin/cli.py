"""Command line: argument parsing only; each command calls one public function.

Errors the user can fix (:class:`~sasview_nn_plugin.errors.InputError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from .errors import InputError, Terminated, sigterm_raises

# the library names its parameters (q_unit="nm"); on the command line they are flags (--q-unit nm)
_PARAMETER = re.compile(r"""\b(q_unit|allow_external_hdf5|plugin_dir|volume_fraction_table|volume_fraction"""
                        r"""|force(?==)|model(?==))"""
                        r"""(?:=(True|None|'([^']*)'|"([^"]*)"))?(?=[\s.,;:)]|$)""")


def as_flags(message: str) -> str:
    """A library message in the words of the command line: ``q_unit='nm'`` -> ``--q-unit nm``, and a parameter
    named in backticks (`` `volume_fraction_table` ``) -> its flag (``--volume-fraction-table``)."""
    message = re.sub(r"`([a-z][a-z0-9_]*)`", lambda m: "--" + m.group(1).replace("_", "-"), message)

    def flag(m: re.Match) -> str:
        name = "--" + m.group(1).replace("_", "-")
        value = m.group(3) if m.group(3) is not None else m.group(4)
        return name if value is None else f"{name} {value}"

    return _PARAMETER.sub(flag, message)


def _add_grid_args(p: argparse.ArgumentParser) -> None:
    from .physics.grids import DEFAULT_Q, DEFAULT_R

    g = p.add_argument_group("grids (q in 1/A, radius in A)")
    for name, default in zip(("q-min", "q-max", "n-q", "r-min", "r-max", "n-r"), (*DEFAULT_Q, *DEFAULT_R), strict=True):
        g.add_argument(f"--{name}", type=int if name.startswith("n-") else float, default=default)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """The flags `invert` and `batch` share (defined once): inputs, volume fractions, model, fit, outputs."""
    p.add_argument("inputs", nargs="+", help="files (ASCII q I [dI [dq]], CanSAS XML, NXcanSAS), globs, directories, "
                                              "HDF5 frame tables (1-D q + 2-D intensity [+ dI, dq, per-frame fields])")
    phi = p.add_mutually_exclusive_group(required=True)
    phi.add_argument("--volume-fraction", help="one volume fraction for every curve, 0 <= phi < 0.74 (0: dilute), "
                                               "or auto")
    phi.add_argument("--volume-fraction-table", metavar="CSV",
                     help="per-curve volume fractions: columns frame (id, file name or stem) and volume_fraction")
    p.add_argument("--output", required=True, help="output directory (created if missing)")
    p.add_argument("--q-unit", choices=["A", "nm"], default=None,
                   help="unit of q in files that do not state it: 1/A or 1/nm (default: the unit a file states, else "
                        "1/A; a file stating another unit is refused)")
    p.add_argument("--model", default=None, help="shipped model name or file: wide (whole-curve), default "
                   "(windowed), or auto (the default: whole-curve for slit data or a decade of q or more with dI, else "
                   "windowed; invert chooses per curve, batch once for the run, by most of its first 64 readable "
                   "frames; a resumed run keeps it)")
    p.add_argument("--slit-length", type=float, default=None, metavar="L", help="slit length (1/A) of slit-smeared "
                   "data (Bonse-Hart USAXS) whose files do not state it (CanSAS dQl); read by the whole-curve "
                   "model (the default, auto, chooses it; the windowed model refuses slits)")
    for end, op in (("min", ">="), ("max", "<=")):
        p.add_argument(f"--q-{end}", type=float, default=None, help=f"use only points with q {op} this (1/A)")
    p.add_argument("--no-review", action="store_true", help="the check does not fit sticky hard spheres and fractal "
                   "aggregates beside an answer that misses the data or is shaped as an aggregate (flags "
                   "other-model-fits-better, other-model-fits-as-well; 20-70 ms a curve "
                   "where it runs): faster runs, fewer wrong answers caught")
    p.add_argument("--refine", choices=["lm", "dream"], default=None,
                   help="refine the network's result with a bumps fit of sasmodels sphere@hardsphere")
    p.add_argument("--parametrization", choices=["histogram", "schulz3"], default="histogram",
                   help="distribution model of the refinement (default histogram)")
    p.add_argument("--fit-volume-fraction", action="store_true", help="refine the volume fraction without a prior "
                   "(by default --refine fits it within its sigma)")
    p.add_argument("--volume-fraction-sigma", type=float, default=None, metavar="S", help="1-sigma of the given "
                   "volume fraction(s), the prior of --refine (default 10 %% of phi; 0: held fixed; inf: no prior)")
    p.add_argument("--dq-scale-sigma", type=float, default=None, metavar="S", help="1-sigma of ln(dQ / dQ given), "
                   "--refine's resolution prior where files carry dQ (default 0.25; 0: dQ as given; inf: no prior)")
    p.add_argument("--parametric", choices=["lognormal", "schulz"], default=None,
                   help="parametric head + bumps fit of sasmodels sphere@hardsphere with this polydispersity type "
                        "(--refine picks the fitter, default lm; --model a parametric model file)")
    chk = p.add_mutually_exclusive_group()
    chk.add_argument("--check-identifiability", dest="identifiability_check", action="store_true", default=None,
                     help="warn when a result lies outside the identifiable region (default: with --refine or "
                          "--parametric only; it computes sasmodels curves, ~1-2 s per q range and noise)")
    chk.add_argument("--no-identifiability-check", dest="identifiability_check", action="store_false",
                     help="never check")
    p.add_argument("--plot", action="store_true", help="also write a figure per curve (<stem>.png)")
    p.add_argument("--sasview-project", default=None, metavar="OUT.json", help="also write a SasView project file: "
                   "each curve in a Fitting page with the nn_spheres_hs plugin model, parameters from the result")
    p.add_argument("--order", default="name", help="name (default) | mtime | FIELD (a per-frame dataset of the tables)")
    p.add_argument("--strict", action="store_true",
                   help="exit with code 3 when any result is flagged (warnings; results are still written)")
    p.add_argument("--allow-external-hdf5", action="store_true", help="let HDF5 inputs read other files (external "
                   "links, storage, virtual datasets); refused by default: an untrusted file could read any local file")
    p.add_argument("--strict-input", action="store_true", help="refuse files SasView's loader would repair (rows "
                   "with NaN/inf, q = 0 or dI = 0; dI < 0; unsorted or repeated q) instead of repairing them (noted)")


# SimulationSettings fields set by `simulate` flags (--noise-max, ...): name, default (as the dataclass's), help
_SIMULATION_FLAGS = (
    ("family", "mixed", "distribution family (see docs/physics.md)"),
    ("phi_min", 0.1, "volume fractions uniform over phi_min..phi_max"), ("phi_max", 0.5, ""),
    ("dilute_fraction", 0.0, "share of curves at phi = 0 exactly (dilute, no S(q))"),
    ("noise_max", 0.03, "max relative noise per point"),
    ("background_max", 0.02, "flat background (in half the curves) up to this fraction of I(q_max)"),
    ("smear_fraction", 0.0, "share of curves smeared by pinhole resolution"),
    ("dq_over_q_max", 0.06, "largest 1-sigma dQ/Q of smeared curves"),
    ("smear_levels", 6, "smeared curves take one of this many dQ/Q values up to --dq-over-q-max, spaced by"),
    ("smear_spacing", "linear", "linear (k/n of the largest) or geometric (from 1/40 of it)"),
    ("scale_min", 1e-2, "sasmodels scale, log-uniform over scale_min..scale_max"), ("scale_max", 1e2, ""))


def _cmd_simulate(args: argparse.Namespace) -> None:
    from .physics.grids import QGrid, RadiusGrid
    from .training.simulate import SimulationSettings, simulate

    settings = SimulationSettings(
        q_grid=QGrid(args.q_min, args.q_max, args.n_q),
        r_grid=RadiusGrid(args.r_min, args.r_max, args.n_r),
        parametric=args.parametric, **{name: getattr(args, name) for name, _, _ in _SIMULATION_FLAGS})
    out = simulate(args.n, args.seed, args.out, settings, progress=not args.quiet)
    print(f"wrote {args.n} curves to {out}")


def _cmd_train(args: argparse.Namespace) -> None:
    from .training.train import train

    res = train(args.data, args.out, preset=args.preset, epochs=args.epochs, seed=args.seed,
                max_curves=args.max_curves, patience=args.patience, verbose=0 if args.quiet else 2)
    print(f"wrote {res.path} after {res.epochs_run} epochs ({res.seconds:.0f} s); held-out: {res.held_out()}")


def _run_options(args: argparse.Namespace):
    """The run options of `invert` and `batch` from their (shared) flags."""
    from .runs.process import RunOptions

    same = ("volume_fraction", "volume_fraction_table", "q_unit", "model", "refine", "parametrization",
            "fit_volume_fraction", "parametric", "volume_fraction_sigma", "dq_scale_sigma", "plot", "sasview_project",
            "allow_external_hdf5", "strict_input", "order", "slit_length")
    q_range = None if args.q_min is None and args.q_max is None else (args.q_min or 0.0, args.q_max or 1e300)
    return RunOptions(**{k: getattr(args, k) for k in same}, check_identifiability=args.identifiability_check,
                      q_range=q_range, review=not args.no_review)


def _cmd_invert(args: argparse.Namespace) -> int:
    from .runs.invert_files import describe, input_notes, invert_files

    results = invert_files(args.inputs, output=args.output, options=_run_options(args))
    for r, notes in zip(results, input_notes(results), strict=True):
        for w in r.warnings:
            print(f"sasview-nn invert: warning: {r.source}: {w}", file=sys.stderr)
        for n in notes:  # what was read: repairs, a q unit assumed
            print(f"sasview-nn invert: note: {r.source}: {n}", file=sys.stderr)
        for n in r.inversion.notes:
            print(f"sasview-nn invert: note: {r.source}: {n}", file=sys.stderr)
        print(f"{r.source}: {describe(r.inversion)} -> {r.files[0]}")
    if args.sasview_project:
        print(f"SasView project: {args.sasview_project} (File > Open Project; needs the plugin model: "
              "sasview-nn install-sasview)")
    return 3 if args.strict and any(r.warnings for r in results) else 0


def _cmd_identifiability(args: argparse.Namespace) -> None:
    from .data.curve import Q_UNITS
    from .fitting.identifiability import MapSettings, compute_map, region_summary, write_map

    q_scale = Q_UNITS[args.q_unit]  # to 1/A
    settings = MapSettings(q_min=args.q_min * q_scale, q_max=args.q_max * q_scale, noise=args.noise,
                           family=args.family, volume_fraction=args.volume_fraction, r_min=args.r_min,
                           r_max=args.r_max, pd_min=args.pd_min, pd_max=args.pd_max, floor=args.floor,
                           chi2_threshold=args.chi2_threshold)
    m = compute_map(settings)
    paths = write_map(m, args.output)
    s = region_summary(m)
    print(f"{args.family}, q {settings.q_min:g}-{settings.q_max:g} 1/A ({len(m.q)} points), noise "
          f"{100 * args.noise:g} %: {100 * s['fraction_identifiable']:.0f} % of the grid identifiable "
          f"(1990 criterion: {100 * s['fraction_identifiable_1990']:.0f} %) -> {paths['png']}")
    for w, rng in list(s["radius_range_per_width"].items())[::max(1, len(m.width) // 5)]:
        txt = "none" if rng is None else f"{rng[0]:.0f}-{rng[1]:.0f} A"
        print(f"  radius_pd {w}: identifiable radii {txt}")


def _cmd_lam1990(args: argparse.Namespace) -> None:
    from .optics.lam1990 import Lam1990Settings, run

    s = run(args.output, Lam1990Settings(epochs=args.epochs, seed=args.seed, region=args.region),
            verbose=0 if args.quiet else 2)
    fmt = lambda r: "none" if r is None else f"{r[0]:.3f} .. {r[1]:.3f}"  # noqa: E731
    print(f"allowable region, paper: log r_m {fmt(s['paper_region']['log_rm'])}, log sigma "
          f"{fmt(s['paper_region']['log_sigma'])}")
    for key in ("ours_relative_D1", "ours_shape"):
        print(f"  ours ({key[5:]}): log r_m {fmt(s[key]['log_rm'])}, log sigma {fmt(s[key]['log_sigma'])}")
    print(f"480 sets over {s['region_used']} box: log r_m {fmt(s['training_box']['log_rm'])}, log sigma "
          f"{fmt(s['training_box']['log_sigma'])}")
    b, c = s["share_below_10_percent"], s["share_below_10_percent_physical"]
    print(f"{s['n_test']} test sets: APE < 10 % on {100 * b['log_rm']:.0f} % (log r_m) and "
          f"{100 * b['log_sigma']:.0f} % (log sigma); on {100 * c['r_m']:.0f} % (r_m) and {100 * c['sigma']:.0f} % "
          f"(sigma); figures in {args.output}")


def _cmd_install_sasview(args: argparse.Namespace) -> None:
    from .sasview.install import describe, install_plugin, write_zip

    try:
        print(describe(write_zip(args.zip) if args.zip else
                       install_plugin(args.plugin_dir, uninstall=args.uninstall, force=args.force)))
    except InputError as exc:  # the library names its parameters; say the flags
        msg = str(exc)
        for name, flag in (("pass force=True", "pass --force"), ("plugin_dir is empty", "--plugin-dir is empty"),
                           ("another plugin_dir", "another --plugin-dir"),
                           ("writable plugin_dir", "writable --plugin-dir")):
            msg = msg.replace(name, flag)
        raise InputError(msg, parameter=exc.parameter) from None


def _cmd_series(args: argparse.Namespace) -> None:
    from .data.validation import check_volume_fraction
    from .training.simulate import growth_series

    if args.frames < 1:
        raise InputError(f"--frames must be >= 1 (got {args.frames})", parameter="frames")
    check_volume_fraction(args.volume_fraction)
    path = growth_series(args.out, args.frames, args.seed, radius_start=args.radius_start,
                         radius_end=args.radius_end, pd=args.pd, volume_fraction=args.volume_fraction,
                         noise=args.noise)
    print(f"wrote {path}: {args.frames} frames of growing spheres ({args.radius_start:g} -> {args.radius_end:g} A)")


def _cmd_batch(args: argparse.Namespace) -> int:
    from .runs.batch import run_batch

    s = run_batch(args.inputs, output=args.output, options=_run_options(args), frame_files=not args.no_frame_files,
                  scheduler=args.scheduler, workers=args.workers, progress=not args.quiet)
    if s.model_choice:
        print(s.model_choice)
    if s.own_outputs:
        print(f"left out {s.own_outputs} files written by an earlier sasview-nn run (summary.csv, results.h5, ...)",
              file=sys.stderr)
    if s.stale:
        print(f"note: {len(s.stale)} sources recorded by an earlier run are not among the inputs as they are now "
              f"(removed or changed; changed ones were done again), e.g. {s.stale[0]}", file=sys.stderr)
    for frame, warning in s.warnings[:20]:
        print(f"warning: {frame}: {as_flags(warning)}", file=sys.stderr)
    for frame, reason in s.failures[:20]:
        print(f"failed: {frame}: {as_flags(reason)}", file=sys.stderr)
    if s.failed > 20:
        print(f"... and {s.failed - 20} more failures (see {s.output / 'summary.csv'})", file=sys.stderr)
    print(f"ok {s.done}, failed {s.failed} ({s.skipped} frames recorded by an earlier run, not redone), "
          f"{s.seconds:.1f} s -> {s.output / 'summary.csv'}, {s.output / 'results.h5'}")
    return 3 if args.strict and s.warnings else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sasview-nn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate_command(sub)
    _add_train_command(sub)
    _add_invert_command(sub)
    _add_identifiability_command(sub)
    _add_lam1990_command(sub)
    _add_series_command(sub)
    _add_batch_command(sub)
    _add_install_sasview_command(sub)
    return parser


def _add_simulate_command(sub) -> None:
    """`sasview-nn simulate` and its flags."""
    p = sub.add_parser("simulate", help="generate a training set of sasmodels-exact curves (HDF5)")
    p.add_argument("--n", type=int, required=True, help="number of curves")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output HDF5 file")
    for name, default, text in _SIMULATION_FLAGS:
        p.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                       help=f"{text} (default {default})" if text else None)
    p.add_argument("--parametric", action="store_true",
                   help="record the sasmodels parameters (radius, radius_pd) of single-component --family schulz or "
                        "lognormal distributions: training data for a parametric head (--preset parametric)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_grid_args(p)
    p.set_defaults(func=_cmd_simulate)


def _add_train_command(sub) -> None:
    """`sasview-nn train` and its flags."""
    p = sub.add_parser("train", help="train a network (needs the [train] extra: TensorFlow)")
    p.add_argument("--data", required=True, help="HDF5 file from `sasview-nn simulate`")
    p.add_argument("--out", required=True, help="model file to write (.h5 added if missing)")
    p.add_argument("--preset", default="default", help="default | he2024 | he2024_log | parametric (see docs/model.md)")
    p.add_argument("--epochs", type=int, default=200, help="maximum epochs (early stopping on validation loss)")
    p.add_argument("--patience", type=int, default=12, help="early-stopping patience in epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-curves", type=int, default=None, help="use only the first N curves of --data")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train)


def _add_invert_command(sub) -> None:
    """`sasview-nn invert` and its flags."""
    p = sub.add_parser("invert", help="invert measured curves into size distributions (numpy only)")
    _add_run_args(p)
    p.set_defaults(func=_cmd_invert)


def _add_identifiability_command(sub) -> None:
    """`sasview-nn identifiability` and its flags."""
    p = sub.add_parser("identifiability", help="map where (radius, width) can be told apart for a q range and noise")
    p.add_argument("--q-min", type=float, default=0.04, help="q range of the measurement (default 0.04-0.105 1/A)")
    p.add_argument("--q-max", type=float, default=0.105)
    p.add_argument("--q-unit", choices=["A", "nm"], default="A", help="unit of --q-min/--q-max: 1/A or 1/nm")
    p.add_argument("--noise", type=float, default=0.01, help="relative 1-sigma noise per point (default 0.01)")
    p.add_argument("--family", choices=["lognormal", "schulz"], default="lognormal")
    p.add_argument("--volume-fraction", type=float, default=0.1, help="for S(q) (default 0.1)")
    p.add_argument("--r-min", type=float, default=10.0, help="radius grid, A (default 10-150, log-spaced)")
    p.add_argument("--r-max", type=float, default=150.0)
    p.add_argument("--pd-min", type=float, default=0.02, help="radius_pd grid (default 0.02-0.4)")
    p.add_argument("--pd-max", type=float, default=0.4)
    p.add_argument("--floor", type=float, default=0.005, help="1990 criterion: rms relative distance (default 0.005)")
    p.add_argument("--chi2-threshold", type=float, default=6.0, help="noise-aware criterion (default 6)")
    p.add_argument("--output", required=True, help="directory for identifiability.png/.csv/.json")
    p.set_defaults(func=_cmd_identifiability)


def _add_lam1990_command(sub) -> None:
    """`sasview-nn lam1990` and its flags."""
    p = sub.add_parser("lam1990", help="reproduce the 1990 Mie-backscatter inversion (needs [optics] and [train])")
    p.add_argument("--output", required=True, help="directory for summary.json and the figures")
    p.add_argument("--region", choices=["ours", "paper"], default="ours",
                   help="where the 480 sets lie: the region our criterion allows (default) or the paper's box")
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1990)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_lam1990)


def _add_series_command(sub) -> None:
    """`sasview-nn simulate-series` and its flags."""
    p = sub.add_parser("simulate-series", help="a synthetic time series of growing particles (HDF5 frame table)")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--radius-start", type=float, default=20.0, help="Schulz mean radius of the first frame (A)")
    p.add_argument("--radius-end", type=float, default=60.0, help="... of the last frame (A)")
    p.add_argument("--pd", type=float, default=0.12, help="Schulz sigma/mean")
    p.add_argument("--volume-fraction", type=float, default=0.3)
    p.add_argument("--noise", type=float, default=0.01, help="relative noise per point (dI is written)")
    p.set_defaults(func=_cmd_series)


def _add_batch_command(sub) -> None:
    """`sasview-nn batch` and its flags."""
    p = sub.add_parser("batch", help="invert a whole run: many files / multi-frame HDF5, resumable, optional Dask")
    _add_run_args(p)
    p.add_argument("--no-frame-files", action="store_true", help="skip the per-frame JSON/CSV (run files only)")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--workers", type=int, default=None, help="start a local Dask cluster with N worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_batch)


def _add_install_sasview_command(sub) -> None:
    """`sasview-nn install-sasview` and its flags."""
    p = sub.add_parser("install-sasview", help="install (or remove) the nn_spheres_hs SasView plugin model")
    p.add_argument("--plugin-dir", default=None,
                   help="SasView's plugin_models directory (default: found as SasView 6.1+ does)")
    p.add_argument("--uninstall", action="store_true", help="remove the plugin model")
    p.add_argument("--force", action="store_true",
                   help="replace (or with --uninstall remove) an nn_spheres_hs.py not installed by this package, "
                        "or a link: it is first kept as nn_spheres_hs.py.bak-<date-time>")
    p.add_argument("--zip", default=None, metavar="OUT.zip",
                   help="install nothing; write the plugin and its bundle as a zip to unzip into SasView's "
                        "plugin-model folder by hand")
    p.set_defaults(func=_cmd_install_sasview)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_raises():
            rc = args.func(args) or 0
        sys.stdout.flush()
    except InputError as exc:
        print(f"sasview-nn {args.command}: error: {as_flags(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `sasview-nn invert ... | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # disk full, permissions, ...: one line; finished work is kept
        from .data.files import os_error_message

        print(f"sasview-nn {args.command}: error: {os_error_message(exc)}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated) as exc:
        hint, term = "; re-run the same command to resume" if args.command == "batch" else "", type(exc) is Terminated
        print(f"sasview-nn {args.command}: {'terminated (SIGTERM)' if term else 'interrupted'}{hint}", file=sys.stderr)
        return 143 if term else 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
