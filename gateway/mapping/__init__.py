"""Record <-> XML mapping driven by the XSDs: the message type registry, plans, JSON Schema.

Use `Registry.load(xsd_dir)` once at start-up, then `build`/`to_xml`/`parse`/`json_schema`;
`complete_record` fills what the gateway supplies (header ids, time, product, author).

Imports: the ground floor and validation (code lists, issue paths); never the store,
exchange, backend, operations or the shell.
"""
from .completion import Authority, complete_record, prepare_message
from .plan import record_key
from .registry import MessageType, Registry

__all__ = ["Registry", "MessageType", "Authority", "complete_record", "prepare_message", "record_key"]
