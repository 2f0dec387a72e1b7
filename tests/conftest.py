"""Shared test fixtures.

``shared``: the read-only data folder beside the repository (``../shared``: the SigmaHQ rules snapshot and
datasets). Tests that need it skip with a clear message when it is absent, and fail when ``$CI`` is set,
because CI always has it and a silent skip there would hide a broken test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The shared data folder: ``<repo>/../shared``."""
    return REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        message = f"shared data folder {path} is absent (it holds the SigmaHQ snapshot and datasets)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def rule_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder for compiled rules shared by the whole test session (cold parsing costs ~20 s)."""
    path = tmp_path_factory.mktemp("yamori-cache")
    os.environ["YAMORI_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def sigmahq_rules(shared: Path, rule_cache: Path) -> object:
    """Every rule of the SigmaHQ snapshot, compiled once per session."""
    from yamori.engine.ruleset import load_ruleset

    return load_ruleset([shared / "sigma"])
