"""SasView integration: the ``nn_spheres_hs`` plugin model, its installer and bundle, project files, and the
Fitting-menu actions that run inside SasView ("Neural-network start", "Plot size distribution").
Takes Inversions, SasView's fit pages and fit objects; gives plugin files, bundles, projects and page starts.
"""

from __future__ import annotations

from pathlib import Path

PLUGIN_NAME = "nn_spheres_hs"


def plugin_model_path() -> Path:
    """The plugin model file shipped with the package (a self-contained sasmodels Python model)."""
    return Path(__file__).resolve().parent / f"{PLUGIN_NAME}.py"
