"""``sasview-nn-bumps``: bumps' command line with the ``nn-lm`` and ``nn-dream`` fitters registered.

bumps 1.x validates ``--fit`` while parsing the command line (``argparse`` ``choices`` are
``bumps.fitters.FIT_AVAILABLE_IDS``), before it runs the model file, so a model file that imports
:mod:`sasview_nn_plugin.fitting.fitter` registers the fitters too late for ``bumps --fit=nn-lm``.
This driver imports that module (registering them through ``bumps.fitters.register``) and then runs
bumps' own ``main``, the pattern bumps documents for applications built on it (``bumps.cli``,
``bumps.plugin``)::

    sasview-nn-bumps model.py --fit=nn-lm -b -x --export=out
"""

from __future__ import annotations

import sys

from . import fitter  # noqa: F401  (registers nn-lm and nn-dream)


def main() -> int:
    try:  # bumps 1.x: the `bumps` console script
        from bumps.webview.server.cli import main as bumps_main
    except ImportError:  # bumps 0.9
        from bumps.cli import main as bumps_main
    return bumps_main() or 0


if __name__ == "__main__":
    sys.exit(main())
