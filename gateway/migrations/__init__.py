"""Alembic migration scripts of the store (see gateway.store.schema)."""
