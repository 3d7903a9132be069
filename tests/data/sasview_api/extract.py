"""Extract the SasView API manifest that tests/test_sasview_api.py checks the plugin against (README.md here).

    python extract.py SITE_PACKAGES OUT.json     # a folder holding sas/ (and sasdata/), e.g. an unpacked wheel

Reads source only (``ast``, nothing of SasView is imported), so any Python can extract any SasView release.
Records, for the modules and classes the plugin file, the Fitting-menu actions and the project writer touch:
module-level names, class attributes (methods, class-level names, ``self.X =`` in any method, properties,
through base classes found in the tree, the Qt Designer ``Ui_*`` classes included), signal arities, the
``ObjectLibrary`` names SasView registers, the page keys a Fitting page saves (``getParameterDict`` and what it
calls) and the weighting buttons in the order their ids are given.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

MODULES = {   # module -> classes recorded
    "sas.qtgui.Utilities.GuiUtils": ["Communicate"],
    "sas.qtgui.Utilities.ObjectLibrary": [],
    "sas.qtgui.MainWindow.MainWindow": ["MainSasViewWindow"],
    "sas.qtgui.MainWindow.GuiManager": ["GuiManager"],
    "sas.qtgui.MainWindow.DataExplorer": ["DataExplorerWindow"],
    "sas.qtgui.Perspectives.Fitting.FittingPerspective": ["FittingWindow"],
    "sas.qtgui.Perspectives.Fitting.FittingWidget": ["FittingWidget"],
    "sas.qtgui.Perspectives.Fitting.FittingLogic": ["FittingLogic"],
    "sas.qtgui.Perspectives.Fitting.SmearingWidget": ["SmearingWidget"],
    "sas.qtgui.Perspectives.Fitting.OptionsWidget": ["OptionsWidget"],
    "sas.qtgui.Perspectives.Fitting.FittingController": ["FittingController"],
    "sas.qtgui.Plotting.PlotterData": ["Data1D", "DataRole"],
    "sas.qtgui.Plotting.Plottables": ["View"],
    "sas.sascalc.fit.BumpsFitting": ["BumpsFit", "SasFitness"],
    "sas.sascalc.fit.AbstractFitEngine": ["FitArrange", "FResult", "FitData1D"],
    "sas.sascalc.fit.models": [],
    "sas.system.user": [],
}
PAGE_WRITERS = ("getParameterDict", "getFitPage", "getFitModel", "getTabName")   # FittingWidget's page save


def module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


class Tree:
    def __init__(self, root: Path):
        self.root, self.parsed = root, {}

    def parse(self, module: str):
        if module not in self.parsed:
            f = module_file(self.root, module)
            self.parsed[module] = None if f is None else ast.parse(f.read_text(encoding="utf-8"))
        return self.parsed[module]

    def imports(self, module: str) -> dict[str, tuple[str, str]]:
        """name -> (module, name) for ``from X import Y [as Z]`` at module level (relative ones resolved)."""
        out = {}
        for node in self.parse(module).body:
            if isinstance(node, ast.ImportFrom):
                src = node.module or ""
                if node.level:
                    pkg = module.split(".")[:-node.level]
                    src = ".".join(pkg + ([src] if src else []))
                for a in node.names:
                    out[a.asname or a.name] = (src, a.name)
        return out

    def find_class(self, module: str, name: str, depth: int = 0):
        tree = self.parse(module) if depth < 6 else None
        if tree is None:
            return None
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return module, node
        src = self.imports(module).get(name)
        return None if src is None else self.find_class(src[0], src[1], depth + 1)

    def class_attributes(self, module: str, cls: ast.ClassDef, depth: int = 0) -> tuple[set, dict]:
        names, signals = set(), {}
        for node in cls.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(t, ast.Name):
                        names.add(t.id)
                        call = node.value
                        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "Signal":
                            signals[t.id] = len(call.args)
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                    isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
        for base in cls.bases:
            if isinstance(base, ast.Name) and depth < 8:
                found = self.find_class(module, base.id)
                if found is not None:
                    n, s = self.class_attributes(*found, depth + 1)
                    names |= n
                    signals = s | signals
        return names, signals


def page_keys(tree: Tree) -> list[str]:
    """String keys of the rows FittingWidget writes when a page is saved (``param_list.append(['key', ...])``)."""
    found = tree.find_class("sas.qtgui.Perspectives.Fitting.FittingWidget", "FittingWidget")
    keys = set()
    for node in ast.walk(found[1]):
        if isinstance(node, ast.FunctionDef) and node.name in PAGE_WRITERS:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "append" and call.args and \
                        isinstance(call.args[0], ast.List) and call.args[0].elts and \
                        isinstance(call.args[0].elts[0], ast.Constant) and isinstance(call.args[0].elts[0].value, str):
                    keys.add(call.args[0].elts[0].value)
    return sorted(keys)


def page_keys_required(tree: Tree) -> list[str]:
    """Keys ``FittingWidget.updatePageWithParameters`` reads without asking first (``line_dict['k']`` where no
    ``if 'x' in line_dict:`` encloses it): a page row dict without them raises KeyError."""
    found = tree.find_class("sas.qtgui.Perspectives.Fitting.FittingWidget", "FittingWidget")
    fn = next(n for n in found[1].body if isinstance(n, ast.FunctionDef) and n.name == "updatePageWithParameters")
    read, asked = set(), set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "line_dict" \
                and isinstance(node.slice, ast.Constant):
            read.add(node.slice.value)
        elif isinstance(node, ast.If) and any(isinstance(c, ast.Compare) and isinstance(c.left, ast.Constant) and any(
                isinstance(x, ast.Name) and x.id == "line_dict" for x in c.comparators) for c in ast.walk(node.test)):
            asked |= {n.slice.value for b in node.body for n in ast.walk(b) if isinstance(n, ast.Subscript)
                      and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)}
    return sorted(read - asked)


def weighting_buttons(tree: Tree) -> list[str]:
    """The weighting radio buttons' texts in the order OptionsWidget adds them to its group (id -2, -3, ...)."""
    opts = tree.parse("sas.qtgui.Perspectives.Fitting.OptionsWidget")
    order = [c.args[0].attr for c in ast.walk(opts) if isinstance(c, ast.Call)
             and getattr(c.func, "attr", "") == "addButton" and isinstance(c.args[0], ast.Attribute)]
    ui = tree.parse("sas.qtgui.Perspectives.Fitting.UI.OptionsWidgetUI")
    texts = {}
    for c in ast.walk(ui):
        if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "setText" and \
                isinstance(c.func.value, ast.Attribute) and isinstance(c.args[0], ast.Call):
            texts[c.func.value.attr] = c.args[0].args[1].value
    return [texts[b] for b in order]


def object_library(tree: Tree) -> list[str]:
    out = set()
    for module in ("sas.qtgui.MainWindow.GuiManager",):
        for c in ast.walk(tree.parse(module)):
            if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "addObject" and \
                    isinstance(c.args[0], ast.Constant):
                out.add(c.args[0].value)
    return sorted(out)


def extract(root: Path) -> dict:
    tree = Tree(root)
    modules = {}
    for module, classes in MODULES.items():
        parsed = tree.parse(module)
        if parsed is None:
            continue
        names = set(tree.imports(module))
        for node in parsed.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        entry = {"names": sorted(names), "classes": {}}
        for cls in classes:
            found = tree.find_class(module, cls)
            if found is not None:
                attrs, signals = tree.class_attributes(*found)
                entry["classes"][cls] = {"attributes": sorted(attrs), "signals": dict(sorted(signals.items()))}
        modules[module] = entry
    dist = sorted(p.name for pattern in ("sasview-*.dist-info", "sasdata-*.dist-info") for p in root.glob(pattern))
    return {"from": dist, "modules": modules, "page_keys": page_keys(tree),
            "page_keys_required": page_keys_required(tree), "weighting_buttons": weighting_buttons(tree),
            "object_library": object_library(tree)}


if __name__ == "__main__":
    out = extract(Path(sys.argv[1]))
    Path(sys.argv[2]).write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
