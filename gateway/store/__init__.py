"""Durable outbox + inbox: messages, routing slips (history), receipts, the audit log.

Open with `await Store.open(url, data_dir)` or `await Store.from_config(config)`;
see docs/store.md for the API, the states and operations.

Imports: the ground floor only (errors, model, files); the pure audit hash chain is `chain`.
"""
from .repository import Store, new_id
from .retention import Archived, PurgeReport
from .schema import upgrade

__all__ = ["Store", "new_id", "Archived", "PurgeReport", "upgrade"]
