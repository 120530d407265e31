"""Fixtures for the adapter contract (helpers in peer_double.py)."""
from __future__ import annotations

import pytest
from peer_double import ScriptedInbound, start

from gateway.server import create_app


@pytest.fixture
def inbound() -> ScriptedInbound:
    return ScriptedInbound()


@pytest.fixture
async def server(inbound):
    """The real gateway app around the scripted pipeline; yields its base URL."""
    runner, url = await start(create_app(inbound, max_body_bytes=1024 * 1024))
    yield url
    await runner.cleanup()
