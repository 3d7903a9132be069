"""Every SasView name the plugin file, the Fitting-menu actions and the project writer use, checked against the
SasView 6.1.3 and 6.2.0 sources (tests/data/sasview_api/: manifests extracted from the released wheels with
extract.py, provenance in its README).  Fast, no SasView needed: the used names are read from our source by ``ast``.

- ``from sas.X import Y`` and module names in strings: X a recorded module, Y one of its names;
- ``var.attr`` where ``var`` is a SasView object (by the names the code gives them: ``tab`` a FittingWidget, ...):
  present in every version; ``getattr``/``hasattr(var, "attr")`` (the code's version switches): in at least one;
- ``signal.emit(...)``: the signal's arity; ``plotRequestedSignal`` by compat's switch (GuiUtils.communicator);
- a project page's keys are keys SasView writes itself, its data record's keys are attributes of SasView's Data1D,
  and its weighting index means "Use dI Data" when the data carry dI (issue 28 item 10).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "sasview_nn_plugin"
MANIFESTS = sorted((REPO / "tests" / "data" / "sasview_api").glob("sasview-*.json"))
VERSIONS = {p.stem: json.loads(p.read_text()) for p in MANIFESTS}

GU, FW = "sas.qtgui.Utilities.GuiUtils", "sas.qtgui.Perspectives.Fitting.FittingWidget"
CLS = {"FittingWidget": (FW, "FittingWidget"), "GuiManager": ("sas.qtgui.MainWindow.GuiManager", "GuiManager"),
       "DataExplorer": ("sas.qtgui.MainWindow.DataExplorer", "DataExplorerWindow"),
       "FittingWindow": ("sas.qtgui.Perspectives.Fitting.FittingPerspective", "FittingWindow"),
       "FittingLogic": ("sas.qtgui.Perspectives.Fitting.FittingLogic", "FittingLogic"),
       "SmearingWidget": ("sas.qtgui.Perspectives.Fitting.SmearingWidget", "SmearingWidget"),
       "FittingController": ("sas.qtgui.Perspectives.Fitting.FittingController", "FittingController"),
       "MainWindow": ("sas.qtgui.MainWindow.MainWindow", "MainSasViewWindow"),
       "BumpsFit": ("sas.sascalc.fit.BumpsFitting", "BumpsFit"),
       "SasFitness": ("sas.sascalc.fit.BumpsFitting", "SasFitness"),
       "FitArrange": ("sas.sascalc.fit.AbstractFitEngine", "FitArrange"),
       "FitData1D": ("sas.sascalc.fit.AbstractFitEngine", "FitData1D"),
       "FResult": ("sas.sascalc.fit.AbstractFitEngine", "FResult"),
       "Data1D": ("sas.qtgui.Plotting.PlotterData", "Data1D"),
       "DataRole": ("sas.qtgui.Plotting.PlotterData", "DataRole"),
       "View": ("sas.qtgui.Plotting.Plottables", "View"), "Communicate": (GU, "Communicate")}
MODULE_ALIASES = {"GuiUtils": GU, "ObjectLibrary": "sas.qtgui.Utilities.ObjectLibrary"}
# what the code calls SasView's objects, per file (a name not listed here is not checked)
TYPED = {
    "sasview/actions.py": {"tab": "FittingWidget", "gm": "GuiManager", "per": "FittingWindow",
                           "explorer": "DataExplorer", "engine": "BumpsFit", "fitter": "BumpsFit",
                           "arrange": "FitArrange", "_arrange": "FitArrange", "res": "FResult",
                           "fitness": "SasFitness"},
    "sasview/sizeplot.py": {"tab": "FittingWidget", "p": "Data1D", "explorer": "DataExplorer"},
    "sasview/page.py": {"tab": "FittingWidget", "gm": "GuiManager", "per": "FittingWindow", "explorer": "DataExplorer"},
    "sasview/menu.py": {"gm": "GuiManager"},
    "sasview/compat.py": {"tab": "FittingWidget", "hub": "Communicate", "controller": "FittingController"},
    "sasview/nn_spheres_hs.py": {"explorer": "DataExplorer"},
    "sasview/start.py": {"fitness": "SasFitness", "d": "FitData1D"},
}
CHAIN = {("FittingWidget", "logic"): "FittingLogic", ("FittingWidget", "smearing_widget"): "SmearingWidget",
         ("FittingWidget", "fitting_controller"): "FittingController", ("GuiManager", "_workspace"): "MainWindow",
         ("GuiManager", "perspective()"): "FittingWindow", ("FittingWindow", "currentTab"): "FittingWidget",
         ("DataExplorer", "parent"): "GuiManager", ("FitArrange", "get_data()"): "FitData1D",
         ("SasFitness", "data"): "FitData1D", ("call", "communicator()"): "Communicate",
         ("call", "gui_manager()"): "GuiManager", ("call", "current_tab()"): "FittingWidget"}
OURS = ("_sasview_nn", "sasview_nn")   # attributes this package puts on SasView's objects


def attrs(version: dict, cls: str) -> set[str]:
    module, name = CLS[cls]
    entry = version["modules"].get(module, {}).get("classes", {}).get(name)   # 6.1 has no FittingController
    return set() if entry is None else set(entry["attributes"])


def kind(node, typed):
    """The SasView class an expression is, or None."""
    if isinstance(node, ast.Name):
        return typed.get(node.id)
    if isinstance(node, ast.Attribute):
        return CHAIN.get((kind(node.value, typed), node.attr))
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("getattr",) and len(node.args) >= 2:
            return CHAIN.get((kind(node.args[0], typed), getattr(node.args[1], "value", None)))
        if isinstance(f, ast.Name):
            return CHAIN.get(("call", f"{f.id}()"))
        if isinstance(f, ast.Attribute):
            return CHAIN.get((kind(f.value, typed), f"{f.attr}()"))
    return None


def uses() -> list[tuple[str, str, str, str, int]]:
    """(file, what, owner, name, line): 'import' (module, name), 'module' (string), 'attr'/'optional' (class, attr),
    'modattr' (module, attr), 'emit' (class.signal, arity)."""
    out = []
    for rel, typed in TYPED.items():
        path = PKG / rel
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sas."):
                out += [(rel, "import", node.module, a.name, node.lineno) for a in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("sas.") \
                    and " " not in node.value:
                out.append((rel, "module", node.value, "", node.lineno))
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and node.value.id in MODULE_ALIASES:
                    out.append((rel, "modattr", MODULE_ALIASES[node.value.id], node.attr, node.lineno))
                owner = kind(node.value, typed)
                if owner is not None and not node.attr.startswith(OURS):
                    out.append((rel, "attr", owner, node.attr, node.lineno))
                if node.attr == "emit" and isinstance(node.value, ast.Attribute):
                    sig_owner = kind(node.value.value, typed)
                    if sig_owner is not None:
                        call = next(c for c in ast.walk(tree) if isinstance(c, ast.Call) and c.func is node)
                        out.append((rel, "emit", f"{sig_owner}.{node.value.attr}", str(len(call.args)), node.lineno))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 and \
                    isinstance(node.args[1], ast.Constant):
                owner = kind(node.args[0], typed)
                if isinstance(node.args[0], ast.Name) and node.args[0].id in MODULE_ALIASES:
                    out.append((rel, "optional-mod", MODULE_ALIASES[node.args[0].id], node.args[1].value, node.lineno))
                elif owner is not None and not node.args[1].value.startswith(OURS):
                    out.append((rel, "optional", owner, node.args[1].value, node.lineno))
    return out


def test_the_manifests_are_there():
    assert {"sasview-6.1.3", "sasview-6.2.0"} <= set(VERSIONS)
    assert len(uses()) > 80     # the scan finds the code's SasView names (a renamed file would drop them)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_sasview_name_the_plugin_uses_exists(version):
    v = VERSIONS[version]
    mods = v["modules"]
    missing = []
    for rel, what, owner, name, line in uses():
        where = f"{rel}:{line} {owner}.{name}"
        if what == "import":
            if f"{owner}.{name}" not in mods and (owner not in mods or name not in mods[owner]["names"]):
                missing.append(where)
        elif what == "module":
            if owner not in mods:
                missing.append(where)
        elif what == "modattr":
            # GuiUtils.communicate (6.1) / .communicator (6.2): only through compat's switch
            switch = rel in ("sasview/nn_spheres_hs.py", "sasview/compat.py") and name == "communicate" \
                and "communicator" in mods[owner]["names"]
            if name not in mods[owner]["names"] and not switch:
                missing.append(where)
        elif what == "attr" and name not in attrs(v, owner):
            missing.append(where)
        elif what == "emit":
            cls, signal = owner.split(".")
            module, cname = CLS[cls]
            arity = mods[module]["classes"][cname]["signals"].get(signal)
            if signal == "plotRequestedSignal":   # compat.request_plot switches on GuiUtils.communicator
                continue
            if arity is None or arity != int(name):
                missing.append(f"{where} emits {name} argument(s); SasView's signal takes {arity}")
    assert not missing, f"{version}: not in SasView's source:\n" + "\n".join(missing)


def test_version_switches_name_something_in_some_version():
    everything = {}
    for v in VERSIONS.values():
        for rel, what, owner, name, line in uses():
            if what == "optional":
                ok = name in attrs(v, owner)
            elif what == "optional-mod":
                ok = name in v["modules"][owner]["names"]
            else:
                continue
            everything.setdefault(f"{rel}:{line} {owner}.{name}", []).append(ok)
    dead = [k for k, oks in everything.items() if not any(oks)]
    assert not dead, f"getattr/hasattr of names no SasView version has: {dead}"


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_compat_switches_match_each_version(version):
    from sasview_nn_plugin.sasview import compat

    v = VERSIONS[version]
    gu = v["modules"][GU]
    arity = gu["classes"]["Communicate"]["signals"]["plotRequestedSignal"]
    new = compat.NEW_API in gu["names"]
    assert arity == (1 if new else 2)       # request_plot emits (items) with communicator, (items, tab_id) without
    assert new or "communicate" in gu["names"]
    assert "statusBarUpdateSignal" in gu["classes"]["Communicate"]["signals"]
    # the page's Fit calls the controller's prepareFitters where there is one (6.2): that is the one wrapped
    if "fitting_controller" in attrs(v, "FittingWidget"):
        assert "prepareFitters" in attrs(v, "FittingController")
    else:
        assert "prepareFitters" in attrs(v, "FittingWidget")
    assert "DataExplorer" in v["object_library"]      # ObjectLibrary.getObject("DataExplorer")
    assert "ROLE_SIZE_DISTRIBUTION" in attrs(v, "DataRole")


def project(di: bool):
    from sasview_nn_plugin.sasview.project import PluginParameters, load_plugin_module, project_dict

    values = {p[0]: p[2] for p in load_plugin_module().parameters} | {"scale": 1.0, "background": 0.0}
    q = np.linspace(0.01, 0.3, 50)
    entry = dict(name="x.dat", path="/x.dat", q=q, intensity=np.ones(50), di=np.full(50, 0.1) if di else None,
                 dq=None, parameters=PluginParameters(values, {"scale"}), q_range=(0.01, 0.3))
    return next(v for v in project_dict([entry]).values() if isinstance(v, dict) and "fit_params" in v)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_project_pages_use_only_what_sasview_writes_and_reads(version):
    from sasview_nn_plugin.sasview.project import load_plugin_module

    v = VERSIONS[version]
    page = project(True)["fit_params"][0]
    parameters = {p[0] for p in load_plugin_module().parameters} | {"scale", "background", "nn_spheres_hs"}
    assert set(page) - parameters <= set(v["page_keys"]) | {"model_name"}, set(page) - parameters - set(v["page_keys"])
    record = project(True)["fit_data"][0]
    data1d = attrs(v, "Data1D") | {"__type__"}
    assert set(record) <= data1d, set(record) - data1d
    assert set(record["view"]) <= attrs(v, "View") | {"__type__"}, set(record["view"]) - attrs(v, "View")


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_project_weighting_is_dI_when_the_data_have_dI(version):
    """Issue 28 item 10: a page for data with dI opened with weighting "None" (SasView's chi2 then counts I - model
    in intensity units: 18445 for a true 6.6).  SasView maps the saved index k to the k-th weighting button."""
    buttons = VERSIONS[version]["weighting_buttons"]
    assert buttons[int(project(True)["fit_params"][0]["weighting"][0])] == "Use dI Data"
    assert buttons[int(project(False)["fit_params"][0]["weighting"][0])] == "None"


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_the_start_writes_every_key_sasviews_page_update_requires(version):
    """6.2's updatePageWithParameters reads line_dict['fitpage_structure'] unasked: Neural-network start failed with
    KeyError there (found by the 6.2 GUI run)."""
    from types import SimpleNamespace

    from sasview_nn_plugin.sasview.actions import _page_row
    from sasview_nn_plugin.sasview.start import Start

    tab = SimpleNamespace(getParameterDict=lambda: {"radius1": ["False", "40.0", "1.0", "inf", []]})
    row = _page_row(tab, Start({"radius1": 45.0}, {"radius1"}, None, 0.3, 1.0))
    assert set(VERSIONS[version]["page_keys_required"]) <= set(row), row
    assert row["radius1"][:2] == ["True", "45.0"]
