"""The security suite: a hostile-input corpus and fuzzing against a real gateway (B) served
on 127.0.0.1, with A producing genuinely signed messages (helpers from tests/integration)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from api_support import start_pair  # noqa: E402


@pytest.fixture
async def pair(tmp_path):
    p = await start_pair(tmp_path)
    yield p
    await p.aclose()
