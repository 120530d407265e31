"""The README's main job: `gateway demo` runs the civil-status exchange between two gateways."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from gateway import demo
from gateway.model import Direction


@pytest.mark.parametrize("transport", ["http", "soap"])
async def test_demo_exchanges_application_and_answer(tmp_path, transport):
    lines: list[str] = []
    assert await demo.run(tmp_path, transport=transport, say=lines.append) == 0
    text = "\n".join(lines)
    assert f"personenstand.urkundenantrag.0100" in text
    assert text.count("acknowledged, signed receipt verified (positive: 0000)") == 2
    assert "Anna Maria Schneider applies for a certificate 'GEB'" in text
    assert "accepted: fee 12.00 EUR" in text
    assert text.count("intact") == 2
    # the data stays: a second run on the same folder reuses keys and stores
    again: list[str] = []
    assert await demo.run(tmp_path, transport=transport, say=again.append) == 0


def test_demo_command_runs_as_a_process(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "7. Audit chain of the office" in done.stdout
    assert "Traceback" not in done.stderr


async def test_demo_load_sends_n_more_applications_and_prints_rate_and_latency(tmp_path):
    lines: list[str] = []
    assert await demo.run(tmp_path, load=12, say=lines.append) == 0
    text = "\n".join(lines)
    assert "8. Load: 12 applications from the portal to psw:09162000, 8 submits at a time" in text
    result = next(line for line in lines if "acknowledged in" in line)
    assert re.search(r"12 of 12 acknowledged in [\d.]+ s: \d+ exchanges/s; submit -> acknowledged "
                     r"p50 \d+ ms, p99 \d+ ms \(\d+ cores, load average [\d.]+ -> [\d.]+\)", result), result
    from gateway import bootstrap, config
    cfg = config.from_dict(demo.tables(tmp_path, "http", (1, 2))[1], base_dir=tmp_path / "office")
    gw = await bootstrap.build(cfg)
    try:   # the office really stored them: the story's application plus the 12
        received = await gw.store.list(direction=Direction.IN, limit=100)
        assert sum(m.message_type == demo.APPLICATION for m in received) == 13
    finally:
        await gw.aclose()


def test_demo_refuses_a_negative_load(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path), "--load", "-1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--load must be 0 or more" in done.stderr
