"""The code base passes ruff (configured in pyproject.toml), its function-size limit (C901 complexity, PLR0912
branches, PLR0915 statements) included: .ci/run runs pytest only, so this test is the lint step."""

import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff not installed (test extra)")
def test_ruff_clean():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
