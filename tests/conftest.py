"""Shared test helpers: where the read-only reference fixtures live."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SPACETIMEDB_SDK_SHARED", REPO_ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures"


def load_fixture(*parts: str) -> Any:
    """Load one JSON file from ../shared/fixtures (fail loudly if the checkout lacks it)."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"reference fixture missing: {path} (CI lays ../shared beside the clone)")
    with path.open(encoding="utf-8") as f:
        return json.load(f)
