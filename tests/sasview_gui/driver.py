"""Drive a real SasView 6.x (run under Xvfb by tests/test_sasview_gui.py); prints one JSON object.

    python driver.py plugins|window|project [PROJECT.json [SCREENSHOT.png]]

Needs XDG_DATA_HOME pointing at a private directory that holds SasView/plugin_models/.
"""

from __future__ import annotations

import json
import os
import sys
import time


def plugins() -> dict:
    """SasView's own plugin loader (sas.sascalc.fit.models), as used at start-up."""
    from sas.sascalc.fit.models import PLUGIN_LOG, find_plugin_models

    found = find_plugin_models()
    log = open(PLUGIN_LOG).read() if os.path.exists(PLUGIN_LOG) else ""
    errors = [line for line in log.splitlines() if not line.split(": ", 1)[-1].startswith("looking for models in")]
    return {"models": sorted(found), "log_errors": errors, "log": PLUGIN_LOG}


def _main_window():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from sas.qtgui.Utilities import ReactorCore

    ReactorCore.install()
    from sas.qtgui.MainWindow.MainWindow import MainSasViewWindow

    window = MainSasViewWindow()
    app.processEvents()
    return app, window


def _page_values(tab) -> dict:
    pars = tab.getParameterDict()
    return {k: [v[0], v[1]] for k, v in pars.items() if isinstance(v, list) and len(v) > 3}


def window() -> dict:
    """The main window starts; a fresh Fitting page lists the plugin model under 'Plugin Models'."""
    t0 = time.perf_counter()
    app, w = _main_window()
    tab = w.guiManager.perspective().currentTab
    tab.cbCategory.setCurrentIndex(tab.cbCategory.findText("Plugin Models"))
    app.processEvents()
    models = [tab.cbModel.itemText(i) for i in range(tab.cbModel.count())]
    return {"title": w.windowTitle(), "perspective": w.guiManager.perspective().name,
            "plugin_models": models, "start_s": time.perf_counter() - t0}


def project(path: str, screenshot: str | None = None) -> dict:
    """SasView's own project loader opens the file; then press Fit on the page and wait for it."""
    app, w = _main_window()
    gm = w.guiManager
    gm.filesWidget.readProject(path)
    app.processEvents()
    per = gm.perspective()
    tab = per.currentTab
    out = {"perspective": per.name, "n_tabs": len(per.tabs), "model": tab.cbModel.currentText(),
           "category": tab.cbCategory.currentText(), "data_loaded": bool(tab.data_is_loaded),
           "before": _page_values(tab), "smearing": tab.smearing_widget.cbSmearing.currentText(),
           "q_range": [tab.q_range_min, tab.q_range_max], "chi2_before": tab.lblChi2Value.text()}
    messages, finished = [], []
    tab.communicate.statusBarUpdateSignal.connect(messages.append)
    tab.fittingFinishedSignal.connect(finished.append)
    tab.onFit()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 240 and not finished:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(50):  # let fitComplete update the page
        app.processEvents()
        time.sleep(0.02)
    out["fit_finished"] = bool(finished)
    out["fit_s"] = time.perf_counter() - t0
    out["after"] = _page_values(tab)
    out["chi2"] = tab.lblChi2Value.text()
    out["fit_results"] = bool(tab.fitResults)
    out["messages"] = [str(m) for m in messages]
    if screenshot:
        w.resize(1600, 1000)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        w.grab().save(screenshot)
    return out


if __name__ == "__main__":
    what = sys.argv[1]
    result = {"plugins": plugins, "window": window}[what]() if what != "project" else project(*sys.argv[2:4])
    print("RESULT " + json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # skip Qt/twisted teardown (and SasView's exit dialogs)
