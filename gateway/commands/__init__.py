"""CLI command modules; each has `register(subparsers)` (see gateway.cli).

Part of the shell: may import everything.
"""
