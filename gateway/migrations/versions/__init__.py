"""Alembic revisions of the gateway database (one module per revision)."""
