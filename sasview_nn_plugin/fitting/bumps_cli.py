"""``sasview-nn-bumps``: the bumps command line with the ``nn-lm`` and ``nn-dream`` fitters available.

bumps 1.x checks ``--fit`` against its registered fitters while parsing the command line, before
it imports the model file, so a model file that imports this package is too late to add them.
This is bumps' documented pattern for applications (``bumps.plugin``: a driver that imports the
package, then calls bumps' main)::

    sasview-nn-bumps model.py --fit=nn-lm -b -x --export=out
"""

from __future__ import annotations

import sys


def main() -> int:
    import bumps.fitters  # noqa: F401  (importing it registers nn-lm / nn-dream via the package's hook)
    from bumps.webview.server.cli import main as bumps_main

    import sasview_nn_plugin  # noqa: F401

    return bumps_main() or 0


if __name__ == "__main__":
    sys.exit(main())
