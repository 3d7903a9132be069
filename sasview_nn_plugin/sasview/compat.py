"""The SasView 6.1 / 6.2 differences the Fitting-menu actions meet, in one place.

SasView 6.2 renamed ``GuiUtils.communicate`` to ``GuiUtils.communicator`` (and ``GuiManager.communicate`` to
``.communicator``), dropped the tab id from ``plotRequestedSignal`` (``Signal(list, int)`` -> ``Signal(list)``)
and moved ``FittingWidget.prepareFitters``'s work into ``FittingWidget.fitting_controller`` (``onFit`` calls the
controller's).  tests/test_sasview_api.py checks every SasView name the plugin uses, these included, against
a manifest extracted from the 6.1.3 and 6.2.0 sources (tests/data/sasview_api/).
"""

from __future__ import annotations

NEW_API = "communicator"     # GuiUtils has it from 6.2 on (with the one-argument plotRequestedSignal)


def communicator():
    """SasView's ``GuiUtils`` signal hub (``communicator`` in 6.2, ``communicate`` in 6.1)."""
    from sas.qtgui.Utilities import GuiUtils

    hub = getattr(GuiUtils, NEW_API, None)
    return hub if hub is not None else GuiUtils.communicate


def request_plot(items: list, tab_id: int) -> None:
    """Ask SasView to show ``items`` (a data item then its plots), as a Fitting page does."""
    from sas.qtgui.Utilities import GuiUtils

    hub = communicator()
    if hasattr(GuiUtils, NEW_API):
        hub.plotRequestedSignal.emit(items)           # 6.2: Signal(list)
    else:
        hub.plotRequestedSignal.emit(items, tab_id)   # 6.1: Signal(list, int)


def fitter_owner(tab):
    """The object whose ``prepareFitters`` the page's Fit calls: 6.2's ``fitting_controller``, else the page."""
    controller = getattr(tab, "fitting_controller", None)
    return controller if controller is not None and hasattr(controller, "prepareFitters") else tab
