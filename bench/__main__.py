"""Run the benchmarks in bench/ (`python -m bench [NAME...] [OPTIONS]`).

Without a NAME every bench_*.py runs, one after another. OPTIONS go to each benchmark that
runs; every one understands `--quick` (a short version of itself) and `--help`. Examples:
`python -m bench --quick`, `python -m bench e2e --quick`, `python -m bench attachment --size 1024`.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def names() -> list[str]:
    """The benchmark modules' names (bench_*.py), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                  if m.name.startswith("bench_"))


def usage() -> str:
    lines = [__doc__.strip(), "", "benchmarks:"]
    for name in names():
        doc = (importlib.import_module(f"bench.{name}").__doc__ or "").strip().splitlines()
        lines.append(f"  {name[len('bench_'):]:<12} {doc[0] if doc else ''}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    split = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    chosen, options = argv[:split], argv[split:]
    if not chosen and options and options[0] in ("-h", "--help"):
        print(usage())
        return 0
    known = names()
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in chosen] or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    status = 0
    for name in wanted:
        print(f"== {name} {' '.join(options)}".rstrip(), flush=True)
        status = max(status, importlib.import_module(f"bench.{name}").main(list(options)) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
