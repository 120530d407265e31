"""Unattended operation: the scheduler's jobs (and the operator's views of a running node).

Imports: everything below the shell (ground floor, mapping, validation, crypto, store,
exchange, backend, adapters, server); never the shell (bootstrap, cli, commands, demo).
"""
