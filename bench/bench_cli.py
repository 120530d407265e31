"""CLI start: `gateway --version / types / schema / build / validate` from process start to
exit, as a ratio to `python -c pass` measured in the same run (target: under 10x, issue 12).

Each round runs every command once, interleaved with the baseline, so the shared machine's
noise hits them alike; the report gives the median (and best) of the rounds.
Run: .venv/bin/python -m bench cli [--rounds R] [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "personenstand.urkundenantrag.0100"
TARGET = 10.0


def commands(folder: Path) -> dict[str, list[str]]:
    """name -> argv; the build's output is validated by the next command."""
    gateway = [sys.executable, "-m", "gateway"]
    record = ROOT / "examples" / f"{EXAMPLE}.json"
    xml = folder / "antrag.xml"
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "gateway --version": [*gateway, "--version"],
        "gateway types": [*gateway, "types"],
        "gateway schema": [*gateway, "schema", EXAMPLE],
        "gateway build": [*gateway, "build", EXAMPLE, str(record), "-o", str(xml)],
        "gateway validate": [*gateway, "validate", str(xml)],
    }


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds of every command (default 9)")
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        folder = Path(tmp)
        env_check = subprocess.run([sys.executable, "-m", "gateway", "--version"], cwd=folder,
                                   capture_output=True, text=True)
        if env_check.returncode != 0:
            raise SystemExit(env_check.stderr)
        runs: dict[str, list[float]] = {name: [] for name in commands(folder)}
        for _ in range(rounds):
            for name, command in commands(folder).items():
                runs[name].append(timed(command, folder))
    base = statistics.median(runs["python -c pass"])
    print(f"process start to exit, median (best) of {rounds} interleaved rounds; "
          f"baseline python -c pass = {base * 1000:.0f} ms")
    missed = 0
    for name, times in runs.items():
        median, best = statistics.median(times), min(times)
        ratio = median / base
        flag = "" if name == "python -c pass" else ("  ok" if ratio < TARGET else f"  ABOVE target {TARGET:.0f}x")
        missed += bool(flag.strip().startswith("ABOVE"))
        print(f"  {name:<20} {median * 1000:7.0f} ms ({best * 1000:5.0f})  {1 / median:6.1f}/s  "
              f"{ratio:5.1f}x{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
