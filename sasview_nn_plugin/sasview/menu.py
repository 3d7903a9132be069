"""The Fitting menu entries "Neural-network start" and "Plot size distribution" (:mod:`.actions`).

The plugin model file ``nn_spheres_hs.py`` calls :func:`install_when_ready` when SasView's GUI loads it (at
start-up, before the perspectives exist); the entries are added from the GUI thread once the main window is
there.  Any failure of an action is one line in SasView's status bar and log (with a traceback in the log
for a bug); nothing here can stop SasView.
"""

from __future__ import annotations

import logging
import traceback

from .actions import (
    MODEL_CHOICES,
    guarded,
    gui_manager,
    model_choice,
    network_start,
    plot_size_distribution,
    set_model_choice,
    status,
)

logger = logging.getLogger("sasview_nn_plugin")

MENU_START = "Neural-network start"
MENU_PLOT = "Plot size distribution"
ACTION_START = "actionNN_network_start"    # QAction object names (how a second install is recognised)
ACTION_PLOT = "actionNN_plot_size_distribution"
MENU_MODEL = "Neural-network model"        # a submenu: which network Neural-network start uses (actions.MODEL_CHOICES)


def _check_network() -> None:
    """Load the networks (windowed and whole-curve) once at start-up so a missing or corrupt model file is reported
    right away."""
    from ..inference.modelfile import load_model, resolve_model_path
    from ..inference.wide_model import load_any

    try:
        nn = load_model()
    except Exception as exc:  # noqa: BLE001
        msg = (f"sasview_nn_plugin: the network model file cannot be used ({exc}); "
               f"'{MENU_START}' will fail until it is replaced (reinstall: sasview-nn install-sasview)")
        logger.warning(msg)
        status(msg)
        return
    logger.info("sasview_nn_plugin: network %s (%s) ready; Fitting > '%s', '%s'", nn.name,
                resolve_model_path(None), MENU_START, MENU_PLOT)
    try:
        wide = load_any("wide")
    except Exception as exc:  # noqa: BLE001
        msg = (f"sasview_nn_plugin: the whole-curve network file cannot be used ({exc}); '{MENU_START}' works on "
               "windows under a decade of q with the windowed network (reinstall: sasview-nn install-sasview)")
        logger.warning(msg)
        status(msg)
        return
    logger.info("sasview_nn_plugin: whole-curve network %s ready (used for >= 1 decade of q and slit-smeared data; "
                "Fitting > '%s')", wide.name, MENU_MODEL)


def _keep_fit_options_working() -> None:
    """SasView's Fit Options lists every active bumps fitter but has settings pages only for its own: if this
    package's nn-lm/nn-dream got registered in SasView (``sasview_nn_plugin.fitting.fitter`` imported), keep
    them registered but not active.  The page action "Neural-network start" is the way in SasView."""
    import sys

    fitters = sys.modules.get("bumps.fitters")
    active = getattr(fitters, "FIT_ACTIVE_IDS", None)
    for fitter_id in ("nn-lm", "nn-dream"):
        if isinstance(active, list) and fitter_id in active:
            active.remove(fitter_id)


def _add_model_menu(menu) -> None:
    """Fitting > Neural-network model > Automatic | Whole-curve network | Windowed network (one checked)."""
    from PySide6.QtGui import QAction, QActionGroup

    sub = menu.addMenu(MENU_MODEL)
    sub.setObjectName("menuNN_model")
    sub.setToolTipsVisible(True)
    group = QActionGroup(sub)
    group.setExclusive(True)
    for choice, text in MODEL_CHOICES.items():
        action = QAction(text, sub)
        action.setObjectName(f"actionNN_model_{choice}")
        action.setCheckable(True)
        action.setChecked(choice == model_choice())
        action.setStatusTip(f"Neural-network start uses: {text}")
        action.triggered.connect(lambda checked=False, _c=choice: guarded(set_model_choice, _c))
        group.addAction(action)
        sub.addAction(action)


def _install() -> bool:
    """Add the menu entries; False if the main window is not there yet; True when done (or already done)."""
    from PySide6.QtGui import QAction

    gm = gui_manager()
    menu = getattr(getattr(gm, "_workspace", None), "menuFitting", None)
    if gm is None or menu is None or gm.perspective() is None or not hasattr(gm, "statusLabel"):
        return False   # not yet: SasView's main window is still being built (its status bar comes last)
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
    _add_model_menu(menu)
    _keep_fit_options_working()
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
            status("sasview_nn_plugin: the Fitting menu entries could not be added (details in the Log Explorer)")
            return
        if left > 0:
            QTimer.singleShot(delay_ms, app, lambda: attempt(left - 1))

    QTimer.singleShot(0, app, lambda: attempt(attempts))
