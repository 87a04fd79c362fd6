"""Repository-level pytest hooks: docstring examples run from the repository root.

The examples of ``src/decorr_af`` (collected by ``--doctest-modules``, see
``pyproject.toml``) name the small real files as ``tests/data/...``, as a user in
a checkout would; this fixture makes that path resolve wherever pytest starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _doctest_in_repository_root(request, monkeypatch):
    if type(request.node).__name__ == "DoctestItem":
        monkeypatch.chdir(ROOT)
