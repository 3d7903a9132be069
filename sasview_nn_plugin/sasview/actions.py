"""Inside SasView 6.x: the Fitting page actions "Neural-network start" and "Plot size distribution".

The same two actions as the Fitting menu entries (:mod:`.menu`), for Tools > Python Shell::

    from sasview_nn_plugin.sasview import actions; actions.network_start()           # the current Fitting page
    from sasview_nn_plugin.sasview import actions; actions.plot_size_distribution()

*Neural-network start* acts on the current Fitting page with ``nn_spheres_hs`` selected: for its data (every
data set of a batch page) it builds the ``SasFitness`` SasView's own Fit would (the page's q range, weighting
and resolution, on a copy of the page's model), runs :func:`.start.start_fitness` (the nn-lm fitters' start,
then scale and background), writes the values and ticks into the page and redraws.  The page's
``volfraction`` is used; if it is ticked (free), the volume fraction is estimated instead and left free.  On
a batch page every data set gets its own start (and its own components to fit) when Fit is pressed, unless the
page was edited since.  *Plot size distribution* opens a SasView plot (``ROLE_SIZE_DISTRIBUTION``, the route of
SasView's Size Distribution perspective) of the number and volume distributions of the page's parameters and
the network's histogram, updated after every fit.  Nothing of SasView is patched.
"""

from __future__ import annotations

import copy
import logging
import math
import traceback

from . import PLUGIN_NAME
from .compat import fitter_owner
from .page import _data_key, _data_of, _page_items, _shown_data, _state, current_tab, gui_manager, page_values  # noqa: F401
from .start import AUTO, FLAGGED_NOTE, SIZE_PARAMETERS, WIDE, ActionError, Start, start_fitness

logger = logging.getLogger("sasview_nn_plugin")


def fitness_for(tab, item, fitted):
    """The ``SasFitness`` SasView's Fit would build for ``item`` on this page (q range, weighting, resolution),
    on a private copy of the page's model."""
    from sas.sascalc.fit.BumpsFitting import BumpsFit, SasFitness

    data = _data_of(item)
    weighted = tab.addWeightingToData(data)
    model = copy.deepcopy(tab.logic.kernel_module)
    smearer = tab.smearing_widget.smearer()
    engine = BumpsFit()
    engine.set_model(model, 0, list(fitted), data=weighted)
    engine.set_data(data=weighted, id=0, smearer=smearer, qmin=tab.q_range_min, qmax=tab.q_range_max)
    arrange = engine.fit_arrange_dict[0]
    keep = getattr(smearer, "model", None)
    try:
        fitness = SasFitness(model=arrange.get_model(), data=arrange.get_data(), fitted=arrange.pars)
    finally:
        if smearer is not None and hasattr(smearer, "model"):
            smearer.model = keep   # SasFitness points the page's smearer at our copy; give it back
    return data, fitness


def _page_row(tab, start: Start) -> dict[str, list[str]]:
    """``updatePageWithParameters`` input: the page's rows with our values and ticks (limits kept)."""
    rows = tab.getParameterDict()
    # 6.2 reads fitpage_structure unasked (tests/test_sasview_api.py: page_keys_required)
    out = {"model_name": [PLUGIN_NAME], "fitpage_structure": list(rows.get("fitpage_structure", ["None"]))}
    for name, value in start.values.items():
        row = list(rows.get(name, []))
        if len(row) < 4:
            continue
        row[0], row[1] = str(name in start.free), repr(float(value))
        out[name] = row
    return out


def status(text: str) -> None:
    """A message in SasView's status bar (nothing if there is none)."""
    try:
        from .compat import communicator

        communicator().statusBarUpdateSignal.emit(text)
    except Exception:  # noqa: BLE001 - never let a message break anything
        pass


def guarded(fn, *args):
    """Run an action; any failure is one line in SasView's status bar and log (a traceback for bugs)."""
    try:
        return fn(*args)
    except ActionError as exc:
        msg = f"sasview_nn_plugin: {exc}"
        logger.warning(msg)
    except Exception as exc:  # noqa: BLE001
        from ..errors import InputError, ModelFileError

        if isinstance(exc, (InputError, ModelFileError, ValueError)):
            msg = f"sasview_nn_plugin: {exc}"
            logger.warning(msg)
        else:
            msg = f"sasview_nn_plugin: {type(exc).__name__}: {exc} (details in the Log Explorer)"
            logger.error("sasview_nn_plugin failed:\n%s", traceback.format_exc())
    status(msg)
    return None


MODEL_CHOICES = {AUTO: "Automatic (whole curve for >= 1 decade of q or slit-smeared data)",
                 WIDE: "Whole-curve network (wide)", "default": "Windowed network (default)"}
_choice = {"model": AUTO}


def model_choice() -> str:
    """The network Neural-network start uses when none is passed: ``"auto"``, ``"wide"`` or ``"default"``
    (Fitting > Neural-network model; for this SasView session)."""
    return _choice["model"]


def set_model_choice(choice: str) -> None:
    """Fitting > Neural-network model: ``"auto"`` (:func:`.start.choose_model`), ``"wide"`` or ``"default"``."""
    if choice not in MODEL_CHOICES:
        raise ActionError(f"no network choice {choice!r}; choose one of {', '.join(MODEL_CHOICES)}")
    _choice["model"] = choice
    logger.info("sasview_nn_plugin: Neural-network start will use: %s", MODEL_CHOICES[choice])


def _start_one(tab, item, fitted, estimate: bool, model) -> tuple[str, Start]:
    """(data key, start) of one data set of the page; a problem is one ActionError naming the data set."""
    name = getattr(_data_of(item), "name", "?")
    try:
        data, fitness = fitness_for(tab, item, fitted)
        return _data_key(data), start_fitness(fitness, estimate_phi=estimate, model=model)
    except ActionError as exc:
        raise ActionError(f"{name}: {exc}") from None
    except (ValueError, OSError) as exc:   # InputError, ModelFileError: the data or the network file
        hint = (" (or choose Fitting > Neural-network model > Automatic)"
                if "model='default'" in str(exc) and model == WIDE else "")
        raise ActionError(f"{name}: {exc}{hint}") from exc


def network_start(tab=None, model=None) -> dict[str, Start]:
    """Fitting > Neural-network start on ``tab`` (default: the current page); returns the starts per data set.
    ``model``: ``"auto"``, ``"wide"``, ``"default"``, a path or a loaded model; None: :func:`model_choice`."""
    tab = tab or current_tab()
    model = model_choice() if model is None else model
    items = _page_items(tab)
    st = _state(tab)
    estimate = "volfraction" in set(getattr(tab, "main_params_to_fit", []))
    fitted = ["scale", "background", *SIZE_PARAMETERS] + (["volfraction"] if estimate else [])
    starts = dict(_start_one(tab, item, fitted, estimate, model) for item in items)
    st.starts, st.fitted, st.errors = starts, {}, {}
    shown = _shown_data(tab)
    tab.updatePageWithParameters(_page_row(tab, starts[_data_key(shown)]), warn_user=False)
    if len(items) > 1:
        _wrap_batch_fit(tab)
    _listen(tab)
    tab.onPlot()
    names = {_data_key(_data_of(item)): getattr(_data_of(item), "name", "?") for item in items}
    for key, s in starts.items():
        for note in s.notes:   # the name, not SasView's id; a flagged answer as a warning
            (logger.warning if note.startswith(FLAGGED_NOTE) else logger.info)(
                "Neural-network start, %s: %s", names.get(key, key), note)
    s = starts[_data_key(shown)]
    msg = (f"Neural-network start ({s.model} network): {len(s.free)} parameters ticked, "
           f"number-mean radius {s.inversion.mean_radius_number:.1f} A, chi2 {s.chi2:.3g}"
           + (f", volfraction estimated {s.volume_fraction:.3f}" if s.phi_estimated else "")
           + (f" ({len(items)} data sets, each its own start)" if len(items) > 1 else ""))
    logger.info(msg)
    status(msg)
    if st.plotted:
        plot_size_distribution(tab)
    return starts


def _wrap_batch_fit(tab) -> None:
    """Batch page: SasView fits every data set from the page's one parameter set; give each data set its own
    network start instead, unless the page was edited since (then the page's values are used, as SasView does).
    Done by wrapping this page's ``prepareFitters`` (6.2: its ``fitting_controller``'s; an attribute of that object, no
    SasView code changes)."""
    st = _state(tab)
    if st.wrapped:
        return
    owner = fitter_owner(tab)
    original = owner.prepareFitters

    def prepare(*args, **kwargs):
        fitters, fit_id = original(*args, **kwargs)
        try:
            _apply_starts(tab, fitters)
        except Exception:  # noqa: BLE001 - a failure here must not stop SasView's fit
            logger.warning("Neural-network start: per-data starts not applied:\n%s", traceback.format_exc())
        return fitters, fit_id

    owner.prepareFitters = prepare
    st.wrapped = True


def _apply_starts(tab, fitters) -> None:
    st = _state(tab)
    if not st.starts or tab.cbModel.currentText() != PLUGIN_NAME:
        return
    shown = st.starts.get(_data_key(_shown_data(tab)))
    kernel = tab.logic.kernel_module
    if shown is None or set(tab.main_params_to_fit) != shown.free or any(
            not math.isclose(float(kernel.getParam(k)), v, rel_tol=1e-3, abs_tol=1e-9)
            for k, v in shown.values.items() if k in kernel.params):
        logger.info("Neural-network start: the page was edited since the start; every data set starts from it")
        return
    for fitter in fitters:
        for arrange in fitter.fit_arrange_dict.values():
            start = st.starts.get(_data_key(arrange.get_data().sas_data))
            if start is None:
                continue
            fit = fitter.fit

            def started(*a, _fit=fit, _arrange=arrange, _start=start, **kw):
                # runs in SasView's fit thread, just before this data set's fit (they run one after another)
                model = _arrange.get_model().model
                for k, v in _start.values.items():
                    model.setParam(k, v)
                _arrange.pars = [k for k in model.getParamList() if k in _start.free]   # its own components
                _arrange.vals = [model.getParam(k) for k in _arrange.pars]
                return _fit(*a, **kw)

            fitter.fit = started


def _listen(tab) -> None:
    """Replot after every fit of this page (single and batch); batch results are kept per data set."""
    from PySide6.QtCore import QObject

    st = _state(tab)
    if st.listening:
        return

    class Listener(QObject):   # a QObject in the GUI thread: a fit finishing elsewhere is queued to it
        def single(self, result):
            guarded(_after_fit, tab, result, False)

        def batch(self, result):
            guarded(_after_fit, tab, result, True)

    listener = Listener(tab)
    tab._sasview_nn_listener = listener      # kept alive by the page
    tab.fittingFinishedSignal.connect(listener.single)
    tab.batchFittingFinishedSignal.connect(listener.batch)
    st.listening = True


def _after_fit(tab, result, batch: bool) -> None:
    """Keep each data set's fitted values (batch) and errors; say which widths ended at a bound; replot."""
    from .start import widths_at_bounds

    st = _state(tab)
    kernel = tab.logic.kernel_module
    page = {k: float(kernel.getParam(k)) for k in kernel.params}
    for res_list in (result[0] if result and result[0] else []):
        res = res_list[0] if res_list else None
        if res is None or getattr(res, "data", None) is None:
            continue
        data = getattr(res.data, "sas_data", res.data)
        key = _data_key(data) if batch else _data_key(_shown_data(tab))
        fitted = {k: float(v) for k, v in zip(res.param_list, res.pvec, strict=False)}
        values = (dict(st.starts[key].values) if key in st.starts else dict(page)) if batch else dict(page)
        values.update(fitted if batch else {})
        if batch:
            st.fitted[key] = values
        errors = getattr(res, "stderr", None)
        st.errors[key] = {} if errors is None else {k: float(e) for k, e in zip(res.param_list, errors, strict=False)}
        for warning in widths_at_bounds(values, st.errors[key]):
            logger.warning("sasview_nn_plugin, %s: %s", getattr(data, "name", "?"), warning)
            status(f"sasview_nn_plugin: {warning}")
    if st.plotted:
        plot_size_distribution(tab)


def size_distribution_plots(tab) -> list:
    """SasView ``Data1D`` plots (role ROLE_SIZE_DISTRIBUTION) for the page's shown data set (:mod:`.sizeplot`)."""
    from .sizeplot import size_distribution_plots as plots

    return plots(tab)


def plot_size_distribution(tab=None) -> list:
    """Fitting > Plot size distribution: open (or update) the plot for the current page; returns the plots."""
    from .sizeplot import plot_size_distribution as plot

    plots = plot(tab)
    _listen(tab or current_tab())   # replot after every fit of this page
    return plots
