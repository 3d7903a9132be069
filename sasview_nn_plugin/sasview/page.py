"""The Fitting page the actions work on, and what they remember per page (no Qt import)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import PLUGIN_NAME
from .start import ActionError, Start


def gui_manager():
    from sas.qtgui.Utilities import ObjectLibrary

    explorer = ObjectLibrary.getObject("DataExplorer")
    return None if explorer is None else getattr(explorer, "parent", None)


def current_tab():
    """The current Fitting page (``FittingWidget``) of the running SasView."""
    gm = gui_manager()
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


def _data_of(item):
    from sas.qtgui.Utilities import GuiUtils

    return GuiUtils.dataFromItem(item)


def _shown_data(tab):
    """The data set the page shows (a batch page shows one at a time)."""
    return _data_of(tab.all_data[getattr(tab, "data_index", 0)])


def _data_key(data) -> str:
    return str(getattr(data, "id", None) or data.name)


@dataclass
class _PageState:
    """What the actions remember per Fitting page."""

    starts: dict[str, Start] = field(default_factory=dict)          # per data key
    fitted: dict[str, dict[str, float]] = field(default_factory=dict)  # batch fit results per data key
    errors: dict[str, dict[str, float]] = field(default_factory=dict)  # the last fit's 1-sigma errors per data key
    plotted: bool = False
    listening: bool = False
    wrapped: bool = False


def _state(tab) -> _PageState:
    """This page's state, kept on the page object itself (it goes when the page goes)."""
    st = getattr(tab, "_sasview_nn_state", None)
    if st is None:
        st = _PageState()
        tab._sasview_nn_state = st
    return st


def page_values(tab, data=None) -> dict[str, float]:
    """The parameter values of the page for ``data`` (batch: the last fit of that data set, if any)."""
    data = data if data is not None else _shown_data(tab)
    fitted = _state(tab).fitted.get(_data_key(data))
    if fitted is not None:
        return dict(fitted)
    kernel = tab.logic.kernel_module
    return {k: float(kernel.getParam(k)) for k in kernel.params}
