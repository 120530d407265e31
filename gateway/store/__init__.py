"""Durable outbox + inbox: messages, routing slips (history), receipts, the audit log.

Open with `await Store.open(url, data_dir)` or `await Store.from_config(config)`;
see docs/store.md for the API, the states and operations.

Imports: the ground floor only (errors, model, files); the pure audit hash chain is `chain`.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .repository import Store, new_id
    from .retention import Archived, PurgeReport
    from .schema import upgrade

__all__ = ["Store", "new_id", "Archived", "PurgeReport", "upgrade"]
# Imported on first use: SQLAlchemy and Alembic take most of a second to import, and
# `gateway.store.chain` (timestamps, the hash chain) is needed by commands that never open
# a store (`gateway --version`, `gateway types`).
_LAZY = {"Store": "repository", "new_id": "repository", "Archived": "retention",
         "PurgeReport": "retention", "upgrade": "schema"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
