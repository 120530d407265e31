"""The README's main job: `gateway demo` runs the civil-status exchange between two gateways."""
from __future__ import annotations

import subprocess
import sys

import pytest

from gateway import demo


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
