"""Shared test helpers: where the reference fixtures live (tests/fixtures, see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"


def load_fixture(*parts: str) -> Any:
    """Load one JSON file from tests/fixtures (fail loudly if it is missing)."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"reference fixture missing: {path} (it belongs in the repository)")
    with path.open(encoding="utf-8") as f:
        return json.load(f)
