"""Shared test helpers: where the reference fixtures live (tests/fixtures, see its README)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# Hypothesis replays the failures it saved. Keep them in this checkout's git-ignored
# .hypothesis/ whatever the working directory, and let a run opt out of replaying them
# (HYPOTHESIS_PROFILE=no-replay), e.g. to get past a saved example while bisecting.
settings.register_profile(
    "repo", database=DirectoryBasedExampleDatabase(str(REPO_ROOT / ".hypothesis" / "examples"))
)
settings.register_profile("no-replay", database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repo"))


def load_fixture(*parts: str) -> Any:
    """Load one JSON file from tests/fixtures (fail loudly if it is missing)."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"reference fixture missing: {path} (it belongs in the repository)")
    with path.open(encoding="utf-8") as f:
        return json.load(f)
