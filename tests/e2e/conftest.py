"""Two real gateway processes (portal A and registry office B) per transport."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "adapters"))

from exchange_pair import pair_tables  # noqa: E402
from gateways import Process  # noqa: E402
from peer_double import free_port  # noqa: E402


@pytest.fixture(scope="module", params=["http", "soap"])
def gateways(request, tmp_path_factory):
    """(A, B): `gateway serve` subprocesses trusting each other, over HTTP or SOAP."""
    transport = request.param
    root = tmp_path_factory.mktemp(f"e2e-{transport}")
    pa, pb = free_port(), free_port()
    path = "/soap" if transport == "soap" else ""
    raw_a, raw_b = pair_tables(root, transport=transport, endpoint_a=f"http://127.0.0.1:{pa}{path}",
                               endpoint_b=f"http://127.0.0.1:{pb}{path}")
    a = Process(root / "a", raw_a, pa)
    try:
        b = Process(root / "b", raw_b, pb)
    except BaseException:
        a.stop()
        raise
    yield a, b
    codes = (b.stop(), a.stop())
    assert codes == (0, 0), "graceful shutdown must exit 0"
