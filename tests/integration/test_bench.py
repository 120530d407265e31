"""The benchmarks keep running: every bench module imports, the dispatcher answers --help,
the micro-benchmarks run their --quick path, and the end-to-end benchmark runs a small
exchange between two real `gateway serve` processes and ends with its result line."""
from __future__ import annotations

import asyncio
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import names
from tests.integration.conftest import _pg_connect, need

ROOT = Path(__file__).resolve().parents[2]


async def _postgresql_problem() -> Exception | None:
    admin = await _pg_connect()
    if isinstance(admin, Exception):
        return admin
    await admin.close()
    return None


def bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_every_bench_module_imports_and_has_a_main_and_a_docstring():
    found = names()
    assert {"bench_e2e", "bench_validate", "bench_sign"} <= set(found)
    for name in found:
        module = importlib.import_module(f"bench.{name}")
        assert callable(module.main) and module.__doc__, name


def test_the_dispatcher_lists_every_benchmark_and_refuses_an_unknown_one():
    done = bench("--help", timeout=120)
    assert done.returncode == 0, done.stderr
    for name in names():
        assert f"  {name.removeprefix('bench_')} " in done.stdout, name
    wrong = bench("nosuch", timeout=120)
    assert wrong.returncode == 2 and "unknown benchmark(s): bench_nosuch" in wrong.stderr


@pytest.mark.parametrize("name", [n for n in names() if n != "bench_e2e"])
def test_each_benchmark_answers_help_and_runs_quick(name):
    short = name.removeprefix("bench_")
    helped = bench(short, "--help", timeout=120)
    assert helped.returncode == 0 and "--quick" in helped.stdout, helped.stderr
    if name == "bench_store":
        problem = asyncio.run(_postgresql_problem())
        need(problem is None, f"bench_store also measures PostgreSQL: {problem}")
    done = bench(short, "--quick")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"[\d,]+/s", done.stdout), done.stdout


def test_e2e_quick_ends_with_one_result_line_per_transport_and_store():
    done = bench("e2e", "--quick", "--only", "http-sqlite", "--messages", "30", "--seconds", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"e2e http sqlite: ([\d,]+) exchanges/s = (\d+)% of limit ([\d,]+); "
                         r"p50 ([\d,]+) ms, p99 ([\d,]+) ms", last)
    assert match, last
    assert int(match[1].replace(",", "")) > 0 and int(match[3].replace(",", "")) > 0
    assert "load average" in done.stdout and "cores" in done.stdout
    assert "| http | sqlite | ECDSA P-256 |" in done.stdout
