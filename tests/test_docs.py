"""Every Python block of README.md and docs/*.md runs as written, so the documentation cannot drift from the code.

A block that cannot run here (inside SasView's GUI, say) carries the marker line
``<!-- docs-test: skip (why) -->`` just before its fence; the reason is required.  Blocks run from a
scratch directory holding a link to the repository's ``examples/``, so nothing is written into the source tree.
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO

FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"<!-- docs-test: skip \((.+?)\) -->\s*$")


def blocks():
    out = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text()
        for m in FENCE.finditer(text):
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            line = text[: m.start()].count("\n") + 1
            skip = SKIP.search(before)
            out.append(pytest.param(m.group(1), id=f"{path.relative_to(REPO)}:{line}",
                                    marks=[pytest.mark.skip(reason=skip.group(1))] if skip else []))
    return out


def test_the_docs_have_python_blocks():
    assert len(blocks()) >= 4


@pytest.mark.parametrize("code", blocks())
def test_doc_block_runs(code, tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<doc block>", "exec"), {"__name__": "__doc_block__"})
