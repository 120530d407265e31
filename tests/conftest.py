"""Shared test fixtures. Components that may be absent skip with a reason, except in CI
(GATEWAY_TEST_REQUIRE_ALL=1), where an absent component fails the test instead."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"
PG_URL = os.environ.get("GATEWAY_TEST_PG", "postgresql://127.0.0.1:5432/test")


def need(available: bool, reason: str) -> None:
    """Skip (or in CI fail) the calling test when a component is absent."""
    if available:
        return
    if os.environ.get("GATEWAY_TEST_REQUIRE_ALL"):
        pytest.fail(f"required in CI but absent: {reason}")
    pytest.skip(reason)


@pytest.fixture
def xmlsec1() -> str:
    """Path of the xmlsec1 binary (interop tests)."""
    path = shutil.which("xmlsec1")
    need(path is not None, "xmlsec1 is not installed (apt-get install xmlsec1)")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference with the real XTA 2 contracts."""
    need(REFERENCE.is_dir(), f"XTA reference contracts not found at {REFERENCE}")
    return REFERENCE
