"""CLI command modules; each has `register(subparsers)` (see gateway.cli)."""
