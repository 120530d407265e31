"""Timing helpers shared by the benchmarks: best-of-N rates and ratio reports."""
from __future__ import annotations

import time
from typing import Callable


def rate(fn: Callable[[], object], *, n: int, repeat: int = 5) -> float:
    """Operations per second of `fn`, best of `repeat` rounds of `n` calls (noise-robust)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def interleaved(fns: dict[str, Callable[[], object]], *, n: int, rounds: int = 7) -> dict[str, float]:
    """Best-of rates for several candidates measured in alternating rounds, so that noise
    on this shared 2-core machine hits them alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: n / t for name, t in best.items()}


def report(title: str, rates: dict[str, float], baseline: str, target: float | None = None) -> None:
    """Print rates and each one's ratio to the baseline; flag a missed target ratio."""
    base = rates[baseline]
    print(f"{title}")
    for name, r in rates.items():
        ratio = r / base
        flag = ""
        if target is not None and name != baseline:
            flag = "  ok" if ratio >= target else f"  BELOW target {target:.0%}"
        print(f"  {name:<40} {r:>10,.0f}/s  {ratio:6.1%} of {baseline}{flag}")
