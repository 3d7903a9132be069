"""The pipeline's shape, checked from the source: stages import only stages above them, no import cycles, module
names unique across stages, and each stage package says what it takes and gives.  (Function size is ruff's:
C901/PLR0912/PLR0915 in pyproject.toml, run by tests/test_lint.py.)

Stages, top to bottom (docs/architecture.md): errors -> physics -> data -> inference -> training -> fitting
-> sasview -> runs -> optics -> cli.  Imports inside functions count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "sasview_nn_plugin"
STAGES = ["errors", "physics", "data", "inference", "training", "fitting", "sasview", "runs", "optics", "cli"]
# the plugin model runs inside SasView (its package imports are guarded); __init__ is the public face
EXEMPT_FROM_IMPORT_RULE = {"sasview_nn_plugin", "sasview_nn_plugin.sasview.nn_spheres_hs"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def imports(path: Path, mod: str | None = None) -> set[str]:
    """Package modules imported anywhere in ``path`` (absolute names); ``mod``: its module name (default: from its
    place in the package)."""
    mod = mod or module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("sasview_nn_plugin"):
                out.add(target)
                out.update(f"{target}.{a.name}" for a in node.names)  # `from . import x` may name a module
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sasview_nn_plugin"))
    return out


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    return {m: {t for t in imports(p) if t in MODULES and t != m} for m, p in MODULES.items()}


def test_every_module_belongs_to_a_stage():
    loose = [m for m in MODULES if m != "sasview_nn_plugin" and stage(m) is None
             and not m.startswith("sasview_nn_plugin.trained_models")]
    assert loose == [], f"modules outside the stage packages: {loose}"


def test_no_stage_imports_a_stage_below_it():
    upward = []
    for m, targets in graph().items():
        if m in EXEMPT_FROM_IMPORT_RULE:
            continue
        for t in targets:
            if stage(t) and STAGES.index(stage(t)) > STAGES.index(stage(m)):
                upward.append(f"{m} imports {t}")
    assert upward == [], "imports against the pipeline's direction:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    g = graph()
    seen, stack, cycles = set(), [], []

    def visit(m):
        if m in stack:
            cycles.append(" -> ".join(stack[stack.index(m):] + [m]))
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if not (m.count(".") < t.count(".") and t.startswith(m + ".")):  # a package importing its own module
                visit(t)
        stack.pop()

    for m in sorted(g):
        visit(m)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


# the inference path is numpy + h5py (docs/architecture.md); the review of other explanations imported sasmodels and
# scipy until its models were ported to numpy (physics.structure, physics.polydisperse): no exception is left
NOT_ON_THE_INFERENCE_PATH = ("sasmodels", "scipy", "bumps", "tensorflow", "keras", "sasdata", "matplotlib")


def external_imports(path: Path) -> dict[str, int]:
    """Top-level names of the packages ``path`` imports anywhere (lazy imports too), each with a line it does so."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.setdefault(node.module.split(".")[0], node.lineno)
        elif isinstance(node, ast.Import):
            for a in node.names:
                out.setdefault(a.name.split(".")[0], node.lineno)
    return out


def test_the_inference_stage_imports_no_fitting_or_training_libraries():
    """No module of inference/ imports sasmodels, scipy, bumps, TensorFlow, sasdata or matplotlib, not even inside a
    function (tests/test_invert.py checks what a run loads)."""
    offenders = [f"{p.relative_to(PKG)}:{line} imports {name}" for p in sorted((PKG / "inference").rglob("*.py"))
                 for name, line in external_imports(p).items() if name in NOT_ON_THE_INFERENCE_PATH]
    assert offenders == [], "the inference path is numpy + h5py:\n" + "\n".join(offenders)


def test_the_import_rule_sees_a_lazy_import(tmp_path):
    fake = tmp_path / "_probe.py"
    fake.write_text("def f():\n    from scipy.optimize import least_squares\n    import sasmodels.core\n")
    assert set(external_imports(fake)) == {"scipy", "sasmodels"}


# every package has one
SHARED_NAMES_FOR_NOW = {"__init__.py"}


def test_module_names_are_unique_across_stages():
    """One name, one module: `invert.py` in two stages made imports and tracebacks ambiguous."""
    seen: dict[str, list[str]] = {}
    for path in PKG.rglob("*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(PKG)))
    shared = {name: sorted(paths) for name, paths in seen.items()
              if len(paths) > 1 and name not in SHARED_NAMES_FOR_NOW}
    assert shared == {}, f"module names used in more than one stage: {shared}"


@pytest.mark.parametrize("name", [s for s in STAGES if (PKG / s).is_dir()])
def test_each_stage_says_what_it_takes_and_gives(name):
    doc = ast.get_docstring(ast.parse((PKG / name / "__init__.py").read_text())) or ""
    assert "Takes" in doc and "gives" in doc, f"{name}/__init__.py: say in two lines what the stage takes and gives"


def test_the_checker_sees_a_violation(tmp_path):
    """The rule can fail: a fake data module importing fitting is reported (the fake lives outside the source tree)."""
    fake, name = tmp_path / "_architecture_probe.py", "sasview_nn_plugin.data._architecture_probe"
    fake.write_text("from ..fitting import refine\n")
    assert any(t.startswith("sasview_nn_plugin.fitting") for t in imports(fake, name))
    assert STAGES.index(stage("sasview_nn_plugin.fitting.refine")) > STAGES.index(stage(name))


def test_input_errors_name_their_parameter_and_the_cli_its_flag():
    from sasview_nn_plugin.cli import as_flags
    from sasview_nn_plugin.errors import InputError
    from sasview_nn_plugin.runs.process import RunOptions, settings_for

    with pytest.raises(InputError) as exc:
        settings_for(RunOptions(volume_fraction=0.3, volume_fraction_table="x.csv"))
    assert exc.value.parameter == "volume_fraction" and "--" not in str(exc.value)
    assert "--volume-fraction-table" in as_flags(str(exc.value))
    assert InputError("bad", parameter="q_unit").parameter == "q_unit"
    assert InputError('pass q_unit="nm"').parameter is None       # given, never read from the message
    assert InputError("a plain message").parameter is None


RAISES_WITHOUT_PARAMETER_FOR_NOW: set[str] = set()   # none left (issue 27 item 6)


def test_every_input_error_names_its_parameter_explicitly():
    """Each InputError / ModelFileError is made with ``parameter=`` (a name, or None where no single argument is at
    fault): the parameter is never parsed from the message."""
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if str(path.relative_to(PKG)) in RAISES_WITHOUT_PARAMETER_FOR_NOW:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    in ("InputError", "ModelFileError") and not any(k.arg == "parameter" for k in node.keywords)):
                offenders.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert offenders == [], "errors made without parameter=: " + ", ".join(offenders)


def test_library_messages_do_not_speak_flags():
    """Only cli.py writes `--flag`: library errors name parameters (backticks or name=value)."""
    import re

    offenders = []
    for path in PKG.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                texts = [c.value for c in ast.walk(node.exc)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                if any(re.search(r"(^|[\s(\"'/])--[a-z][a-z-]+", t) for t in texts):
                    offenders.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert offenders == [], "errors speaking CLI flags (name the parameter in backticks):\n" + "\n".join(offenders)


def test_no_test_module_imports_another():
    """Shared test code lives in tests/helpers.py or conftest.py; a test module importing another runs its
    module-level set-up twice and ties unrelated tests together."""
    tests = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n.split(".")[-1].startswith("test_") for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == [], "test modules importing test modules: " + ", ".join(offenders)
