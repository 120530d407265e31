"""Benchmarks. Each bench_*.py module runs on its own (`python -m bench.bench_NAME`) and
reports throughput as a ratio against a baseline measured in the same run; `python -m bench`
runs them all."""
