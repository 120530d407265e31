"""Record <-> XML mapping driven by the XSDs: the message type registry, plans, JSON Schema.

Use `Registry.load(xsd_dir)` once at start-up, then `build`/`to_xml`/`parse`/`json_schema`;
`complete_record` fills what the gateway supplies (header ids, time, product, author).
"""
from .completion import Authority, complete_record, prepare_message
from .plan import record_key
from .registry import MessageType, Registry

__all__ = ["Registry", "MessageType", "Authority", "complete_record", "prepare_message", "record_key"]
