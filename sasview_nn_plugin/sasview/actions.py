"""Inside SasView 6.x: Fitting > "Neural-network start" and Fitting > "Plot size distribution".

The plugin model file ``nn_spheres_hs.py`` calls :func:`install_when_ready` when SasView's GUI loads it
(at start-up, before the perspectives exist); the menu entries are added from the GUI thread once the
main window is there.  The same two actions, for Tools > Python Shell::

    from sasview_nn_plugin.sasview import actions; actions.network_start()           # current Fitting page
    from sasview_nn_plugin.sasview import actions; actions.plot_size_distribution()

*Neural-network start* acts on the current Fitting page with ``nn_spheres_hs`` selected: for its data (every
data set of a batch page) it builds the fit object SasView's own Fit would (``SasFitness`` over the page's
q range, weighting and resolution), lets :func:`sasview_nn_plugin.fitting.fitter.network_start` (the ``nn-lm``
fitter's start) set the 1-3 Schulz components and the scale, fits scale and background, ticks the
parameters to fit and redraws.  The page's ``volfraction`` is used; if it is ticked (free), the volume
fraction is estimated instead (the best chi^2 over the network's training range) and left free.
*Plot size distribution* opens a SasView plot of the number and volume distributions of the page's current
parameters and the network's histogram, updated after every fit.

Nothing of SasView is patched; errors are messages in SasView's log and status bar.  Only SasView's own
dependencies are used (numpy, scipy, h5py, bumps, PySide6).
"""

from __future__ import annotations

import copy
import logging
import math
import traceback
from dataclasses import dataclass, field

import numpy as np

from . import PLUGIN_NAME

logger = logging.getLogger("sasview_nn_plugin")

MENU_START = "Neural-network start"
MENU_PLOT = "Plot size distribution"
ACTION_START = "actionNN_network_start"    # QAction object names (how a second install is recognised)
ACTION_PLOT = "actionNN_plot_size_distribution"
COMPONENTS = (1, 2, 3)
SIZE_PARAMETERS = tuple(f"{p}{k}" for k in COMPONENTS for p in ("radius", "pd", "fraction"))
PHI_STEP = 0.025          # volume-fraction scan step when the page's volfraction is free
PLOT_LABELS = {"number": "NN number distribution", "volume": "NN volume distribution",
               "nn_number": "network histogram, number", "nn_volume": "network histogram, volume"}


class ActionError(Exception):
    """A problem the user can fix (wrong model, no data, ...): shown as one line, no traceback."""


# -- the start on one fit object (no Qt) -------------------------------------------------------------------

@dataclass
class Start:
    """The network start for one data set: parameter values, what to tick, and what it came from."""

    values: dict[str, float]
    free: set[str]
    inversion: object                       # sasview_nn_plugin.inference.invert.Inversion
    volume_fraction: float
    chi2: float                             # reduced, SasView's weighting and smearing, at the start
    phi_estimated: bool = False
    notes: list[str] = field(default_factory=list)


def _chi2(fitness, n_free: int) -> float:
    r = np.asarray(fitness.residuals(), float)
    return float(np.sum(r * r) / max(1, len(r) - n_free))


def _scale_background(fitness) -> None:
    """Scale and background by non-negative least squares on SasView's own theory (smearing included)."""
    from ..inference.invert import nnls_scale_background

    pars = fitness._pars
    keep_s, keep_b = pars["scale"].value, pars["background"].value
    pars["scale"].value, pars["background"].value = 1.0, 0.0
    fitness.update()
    shape = np.asarray(fitness.theory(), float)
    d = fitness.data
    idx = np.asarray(d.idx, bool)
    y, dy = np.asarray(d.y, float)[idx], np.asarray(d.dy, float)[idx]
    ok = np.isfinite(shape) & np.isfinite(y) & (dy > 0)
    if not ok.any() or not np.any(shape[ok] > 0):
        pars["scale"].value, pars["background"].value = keep_s, keep_b
    else:
        s, b = nnls_scale_background(shape[ok], y[ok], dy[ok])
        lo, hi = pars["background"].bounds if pars["background"].bounds is not None else (-np.inf, np.inf)
        pars["scale"].value, pars["background"].value = s, float(np.clip(b, lo, hi))
    fitness.update()


def _invert_like_network_start(fitness, model):
    """The inversion network_start made (same points, same volume fraction): the network's histogram."""
    from ..inference.invert import invert
    from .fitness import as_experiment

    data = as_experiment(fitness)._data
    keep = np.isfinite(data.y) & (data.y > 0)
    dy = None if data.dy is None or not np.any(data.dy) else data.dy[keep]
    return invert(data.x[keep], data.y[keep], dy, volume_fraction=float(fitness._pars["volfraction"].value),
                  model=model)


def start_fitness(fitness, estimate_phi: bool = False, model=None) -> Start:
    """Run the network start on SasView's ``SasFitness`` of ``nn_spheres_hs`` (a private copy is expected:
    its parameters are changed).  ``estimate_phi``: scan the volume fraction over the network's training
    range and keep the best chi^2; else the fitness's ``volfraction`` is used."""
    from bumps.fitproblem import FitProblem

    from ..fitting.fitter import network_start
    from ..inference.modelfile import load_model
    from .fitness import model_id
    from .project import free_parameters

    if model_id(fitness.model) != PLUGIN_NAME:
        raise ActionError(f"the page's model is {model_id(fitness.model)!r}; choose {PLUGIN_NAME} "
                          "(category Plugin Models) first")
    nn = load_model(model)
    pars = fitness._pars
    for name, p in pars.items():     # network_start sets only free parameters: free exactly what it sets
        p.fixed = name not in ("scale", *SIZE_PARAMETERS)
    problem = FitProblem([fitness])

    def attempt(phi: float) -> tuple[float, dict[str, float]]:
        pars["volfraction"].value = float(phi)
        network_start(problem, model=nn)
        _scale_background(fitness)
        return _chi2(fitness, 4), {k: float(p.value) for k, p in pars.items()}

    notes = []
    if estimate_phi:
        td = nn.info.get("training_data", {}) if isinstance(nn.info, dict) else {}
        lo, hi = float(td.get("phi_min", 0.05)), float(td.get("phi_max", 0.5))
        trials = []
        for phi in np.arange(lo, hi + 1e-9, PHI_STEP):
            try:
                trials.append((*attempt(phi), phi))
            except Exception as exc:  # noqa: BLE001 - one phi that fails is skipped
                notes.append(f"volfraction {phi:.3f}: {exc}")
        if not trials:
            raise ActionError(f"no volume fraction in {lo:g}-{hi:g} gave a start: {notes[-1] if notes else ''}")
        chi2, values, phi = min(trials, key=lambda t: t[0])
        notes.append(f"volfraction estimated: {phi:.3f} (best chi2 over {lo:g}-{hi:g} in steps of {PHI_STEP})")
    else:
        phi = float(pars["volfraction"].value)
        if not 0 < phi < 0.74:
            raise ActionError(f"the page's volfraction is {phi:g}; set it in (0, 0.74), or tick it to estimate it")
        chi2, values = attempt(phi)
    for k, v in values.items():
        pars[k].value = v
    fitness.update()
    inversion = _invert_like_network_start(fitness, nn)
    free = free_parameters(values) | ({"volfraction"} if estimate_phi else set())
    return Start(values, free, inversion, float(values["volfraction"]), chi2, estimate_phi, notes)


# -- distributions (no Qt) --------------------------------------------------------------------------------

def component_distributions(values: dict[str, float]) -> dict[str, np.ndarray]:
    """Number and volume distributions (probability density, 1/A) of the plugin's 1-3 Schulz components,
    on the plugin's own 240 bins; plus ``mean_number`` and ``mean_volume`` (A)."""
    from .project import load_plugin_module

    mod = load_plugin_module()
    radii = [values[f"radius{k}"] for k in COMPONENTS]
    pds = [values[f"pd{k}"] for k in COMPONENTS]
    fractions = [max(values[f"fraction{k}"], 0.0) for k in COMPONENTS]
    edges = mod.radius_bins(radii, pds, fractions)
    if edges is None:
        raise ActionError("no component has volume (fraction1..3 are all 0)")
    r, w = mod.number_weights(edges, radii, pds, fractions)
    width = np.diff(edges)
    vol = w * r**3
    vol = vol / vol.sum()
    return {"radius": r, "number": w / width, "volume": vol / width,
            "mean_number": float(w @ r), "mean_volume": float(vol @ r)}


def histogram_distributions(inversion) -> dict[str, np.ndarray]:
    """The network's histogram as densities (1/A) at its radius bin centres."""
    r = np.asarray(inversion.radius, float)
    edges = np.concatenate([[r[0] - (r[1] - r[0]) / 2], (r[1:] + r[:-1]) / 2, [r[-1] + (r[-1] - r[-2]) / 2]])
    width = np.diff(edges)
    return {"radius": r, "number": np.asarray(inversion.number_distribution) / width,
            "volume": np.asarray(inversion.volume_distribution) / width}


# -- SasView objects ---------------------------------------------------------------------------------------

def _gui_manager():
    from sas.qtgui.Utilities import ObjectLibrary

    explorer = ObjectLibrary.getObject("DataExplorer")
    return None if explorer is None else getattr(explorer, "parent", None)


def current_tab():
    """The current Fitting page (``FittingWidget``) of the running SasView."""
    gm = _gui_manager()
    if gm is None:
        raise ActionError("SasView's main window is not there (run this inside SasView)")
    per = gm.perspective()
    tab = getattr(per, "currentTab", None)
    if tab is None or not hasattr(tab, "cbModel"):
        raise ActionError("no Fitting page is current: switch to the Fitting perspective")
    return tab


def _page_items(tab) -> list:
    if not getattr(tab, "data_is_loaded", False):
        raise ActionError("the Fitting page has no data: send data to it from the Data Explorer first")
    if tab.cbModel.currentText() != PLUGIN_NAME:
        raise ActionError(f"the page's model is {tab.cbModel.currentText()!r}; choose {PLUGIN_NAME} "
                          "(category Plugin Models) first")
    if getattr(tab, "is2D", False):
        raise ActionError("2D data: the network inverts 1D curves only")
    return list(tab.all_data)


def _shown_data(tab):
    """The data set the page shows (a batch page shows one at a time)."""
    from sas.qtgui.Utilities import GuiUtils

    return GuiUtils.dataFromItem(tab.all_data[getattr(tab, "data_index", 0)])


def _data_key(data) -> str:
    return str(getattr(data, "id", None) or data.name)


def fitness_for(tab, item, fitted):
    """The ``SasFitness`` SasView's Fit would build for ``item`` on this page (q range, weighting, resolution),
    on a private copy of the page's model."""
    from sas.qtgui.Utilities import GuiUtils
    from sas.sascalc.fit.BumpsFitting import BumpsFit, SasFitness

    data = GuiUtils.dataFromItem(item)
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


@dataclass
class _PageState:
    """What the actions remember per Fitting page."""

    starts: dict[str, Start] = field(default_factory=dict)          # per data key
    fitted: dict[str, dict[str, float]] = field(default_factory=dict)  # batch fit results per data key
    plotted: bool = False
    listening: bool = False
    wrapped: bool = False


_PAGES: dict[int, _PageState] = {}


def _state(tab) -> _PageState:
    return _PAGES.setdefault(id(tab), _PageState())


def _page_row(tab, start: Start) -> dict[str, list[str]]:
    """``updatePageWithParameters`` input: the page's rows with our values and ticks (limits kept)."""
    rows = tab.getParameterDict()
    out = {"model_name": [PLUGIN_NAME]}
    for name, value in start.values.items():
        row = list(rows.get(name, []))
        if len(row) < 4:
            continue
        row[0], row[1] = str(name in start.free), repr(float(value))
        out[name] = row
    return out


def _status(text: str) -> None:
    try:
        from sas.qtgui.Utilities import GuiUtils

        GuiUtils.communicate.statusBarUpdateSignal.emit(text)
    except Exception:  # noqa: BLE001 - never let a message break anything
        pass


def network_start(tab=None, model=None) -> dict[str, Start]:
    """Fitting > Neural-network start on ``tab`` (default: the current page); returns the starts per data set."""
    tab = tab or current_tab()
    items = _page_items(tab)
    st = _state(tab)
    estimate = "volfraction" in set(getattr(tab, "main_params_to_fit", []))
    fitted = ["scale", "background", *SIZE_PARAMETERS] + (["volfraction"] if estimate else [])
    starts: dict[str, Start] = {}
    for item in items:
        data, fitness = fitness_for(tab, item, fitted)
        try:
            starts[_data_key(data)] = start_fitness(fitness, estimate_phi=estimate, model=model)
        except ActionError as exc:
            raise ActionError(f"{data.name}: {exc}") from None
        except Exception as exc:
            raise ActionError(f"{data.name}: {exc}") from exc
    st.starts, st.fitted = starts, {}
    shown = _shown_data(tab)
    tab.updatePageWithParameters(_page_row(tab, starts[_data_key(shown)]), warn_user=False)
    if len(items) > 1:
        _wrap_batch_fit(tab)
    _listen(tab)
    tab.onPlot()
    for key, s in starts.items():
        for note in s.notes[-1:]:
            logger.info("Neural-network start, %s: %s", key, note)
    s = starts[_data_key(shown)]
    msg = (f"Neural-network start: {len(s.free)} parameters ticked, "
           f"number-mean radius {s.inversion.mean_radius_number:.1f} A, chi2 {s.chi2:.3g}"
           + (f", volfraction estimated {s.volume_fraction:.3f}" if s.phi_estimated else "")
           + (f" ({len(items)} data sets, each its own start)" if len(items) > 1 else ""))
    logger.info(msg)
    _status(msg)
    if st.plotted:
        plot_size_distribution(tab)
    return starts


def _wrap_batch_fit(tab) -> None:
    """Batch page: SasView fits every data set from the page's one parameter set; give each data set its own
    network start instead, unless the page was edited since (then the page's values are used, as SasView does).
    Done by wrapping this page's ``prepareFitters`` (an attribute of this page object; no SasView code changes)."""
    st = _state(tab)
    if st.wrapped:
        return
    original = tab.prepareFitters

    def prepare(*args, **kwargs):
        fitters, fit_id = original(*args, **kwargs)
        try:
            _apply_starts(tab, fitters)
        except Exception:  # noqa: BLE001 - a failure here must not stop SasView's fit
            logger.warning("Neural-network start: per-data starts not applied:\n%s", traceback.format_exc())
        return fitters, fit_id

    tab.prepareFitters = prepare
    st.wrapped = True


def _apply_starts(tab, fitters) -> None:
    st = _state(tab)
    if not st.starts or tab.cbModel.currentText() != PLUGIN_NAME:
        return
    shown = st.starts.get(_data_key(_shown_data(tab)))
    kernel = tab.logic.kernel_module
    if shown is None or any(not math.isclose(float(kernel.getParam(k)), v, rel_tol=1e-3, abs_tol=1e-9)
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
                model = _arrange.get_model().model
                for k, v in _start.values.items():
                    model.setParam(k, v)
                _arrange.vals = [model.getParam(k) for k in _arrange.pars]
                return _fit(*a, **kw)

            fitter.fit = started


def _listen(tab) -> None:
    """Replot after every fit of this page (single and batch)."""
    st = _state(tab)
    if st.listening:
        return
    listener = _Listener(tab)
    tab._sasview_nn_listener = listener      # kept alive by the page
    tab.fittingFinishedSignal.connect(listener.fit_finished)
    tab.batchFittingFinishedSignal.connect(listener.batch_finished)
    st.listening = True


def _make_listener_class():
    from PySide6.QtCore import QObject

    class Listener(QObject):
        def __init__(self, tab):
            super().__init__(tab)
            self.tab = tab

        def fit_finished(self, result):
            guarded(self._after, result, False)

        def batch_finished(self, result):
            guarded(self._after, result, True)

        def _after(self, result, batch):
            st = _state(self.tab)
            if batch and result and result[0]:
                kernel = self.tab.logic.kernel_module
                base = {k: float(kernel.getParam(k)) for k in kernel.params}
                for res_list in result[0]:
                    res = res_list[0] if res_list else None
                    if res is None or getattr(res, "data", None) is None:
                        continue
                    values = dict(base)
                    values.update({k: float(v) for k, v in zip(res.param_list, res.pvec, strict=False)})
                    st.fitted[_data_key(getattr(res.data, "sas_data", res.data))] = values
            if st.plotted:
                plot_size_distribution(self.tab)

    return Listener


class _LazyListener:
    cls = None

    def __call__(self, tab):
        if _LazyListener.cls is None:
            _LazyListener.cls = _make_listener_class()
        return _LazyListener.cls(tab)


_Listener = _LazyListener()


def page_values(tab, data=None) -> dict[str, float]:
    """The parameter values of the page for ``data`` (batch: the last fit of that data set, if any)."""
    data = data if data is not None else _shown_data(tab)
    fitted = _state(tab).fitted.get(_data_key(data))
    if fitted is not None:
        return dict(fitted)
    kernel = tab.logic.kernel_module
    return {k: float(kernel.getParam(k)) for k in kernel.params}


def size_distribution_plots(tab) -> list:
    """SasView ``Data1D`` plots (role ROLE_SIZE_DISTRIBUTION) for the page's shown data set."""
    from sas.qtgui.Plotting.PlotterData import Data1D, DataRole

    data = _shown_data(tab)
    values = page_values(tab, data)
    dist = component_distributions(values)
    curves = [("number", dist["radius"], dist["number"], "Line"), ("volume", dist["radius"], dist["volume"], "Line")]
    start = _state(tab).starts.get(_data_key(data))
    if start is not None:
        h = histogram_distributions(start.inversion)
        curves += [("nn_number", h["radius"], h["number"], "Circle"), ("nn_volume", h["radius"], h["volume"], "Circle")]
    plots = []
    for kind, x, y, symbol in curves:
        p = Data1D(x=np.asarray(x, float), y=np.asarray(y, float))
        p.is_data = False
        p.plot_role = DataRole.ROLE_SIZE_DISTRIBUTION
        p.symbol = symbol
        p.name = f"{PLOT_LABELS[kind]} [{data.name}]"
        p.id = p.name
        p.group_id = f"sasview_nn_plugin size distribution [{data.name}]"
        p.title = f"Size distribution [{data.name}]"
        p.hide_error = True
        p.xaxis("\\rm{Radius}", "A")
        p.yaxis("\\rm{Probability\\ density}", "A^{-1}")
        p.sasview_nn = {"kind": kind, "mean_number": dist["mean_number"], "mean_volume": dist["mean_volume"],
                        "values": values}
        plots.append(p)
    return plots


def plot_size_distribution(tab=None) -> list:
    """Fitting > Plot size distribution: open (or update) the plot for the current page; returns the plots."""
    from sas.qtgui.Utilities import GuiUtils

    tab = tab or current_tab()
    _page_items(tab)
    plots = size_distribution_plots(tab)
    item = tab.all_data[getattr(tab, "data_index", 0)]
    for p in plots:
        GuiUtils.updateModelItemWithPlot(item, p, p.name)
    GuiUtils.communicate.plotRequestedSignal.emit([item, *plots], tab.tab_id)
    st = _state(tab)
    st.plotted = True
    _listen(tab)
    return plots


# -- menu --------------------------------------------------------------------------------------------------

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
    _status(msg)
    return None


def _check_network() -> None:
    """Load the network once at start-up so a missing or corrupt model file is reported right away."""
    from ..inference.modelfile import load_model, resolve_model_path

    try:
        nn = load_model()
    except Exception as exc:  # noqa: BLE001
        msg = (f"sasview_nn_plugin: the network model file cannot be used ({exc}); "
               f"'{MENU_START}' will fail until it is replaced (reinstall: sasview-nn install-sasview)")
        logger.warning(msg)
        _status(msg)
        return
    logger.info("sasview_nn_plugin: network %s (%s) ready; Fitting > '%s', '%s'", nn.name,
                resolve_model_path(None), MENU_START, MENU_PLOT)


def _install() -> bool:
    """Add the menu entries; False if the main window is not there yet; True when done (or already done)."""
    from PySide6.QtGui import QAction

    gm = _gui_manager()
    menu = getattr(getattr(gm, "_workspace", None), "menuFitting", None)
    if gm is None or menu is None or gm.perspective() is None:
        return False
    if any(a.objectName() == ACTION_START for a in menu.actions()):
        return True
    menu.addSeparator()
    for name, text, tip, fn in (
            (ACTION_START, MENU_START, "Start the current page's nn_spheres_hs parameters from the neural network",
             network_start),
            (ACTION_PLOT, MENU_PLOT, "Plot the number and volume size distributions of the current page",
             plot_size_distribution)):
        action = QAction(text, menu)
        action.setObjectName(name)
        action.setStatusTip(tip)
        action.triggered.connect(lambda checked=False, _fn=fn: guarded(_fn))
        menu.addAction(action)
    _check_network()
    return True


def install_when_ready(attempts: int = 1500, delay_ms: int = 200) -> None:
    """Add the menu entries from the GUI thread as soon as SasView's main window exists (idempotent)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return

    def attempt(left: int) -> None:
        try:
            if _install():
                return
        except Exception:  # noqa: BLE001
            logger.error("sasview_nn_plugin: the Fitting menu entries could not be added:\n%s", traceback.format_exc())
            _status("sasview_nn_plugin: the Fitting menu entries could not be added (details in the Log Explorer)")
            return
        if left > 0:
            QTimer.singleShot(delay_ms, app, lambda: attempt(left - 1))

    QTimer.singleShot(0, app, lambda: attempt(attempts))
