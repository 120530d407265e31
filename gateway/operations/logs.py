"""Log lines of `gateway serve`: text for people, JSON for Loki/journald ([logging] format).

Every line carries timestamp (UTC), level, logger, node and message; a line written while a
task works on a message also carries message_id, message_uuid, partner and type (bound by
the exchange through gateway.logcontext), a job's lines the job. So one query
(`{app="gateway"} | json | message_uuid="..."`) or one grep shows a message's whole life
across nodes. Exceptions go into the line (JSON: field `exception`), never over several
unstructured lines.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from ..logcontext import FIELDS, current

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, node: str):
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        line = {"timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"), "level": record.levelname, "logger": record.name, "node": self.node,
                "message": record.getMessage()}
        line.update(getattr(record, "gateway_context", None) or current())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable line, with the message context appended as key=value."""

    def __init__(self, node: str):
        super().__init__(TEXT_FORMAT)
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = getattr(record, "gateway_context", None) or current()
        if context:
            text += " [" + " ".join(f"{k}={context[k]}" for k in FIELDS if k in context) + "]"
        return text


def configure(config, node: str, stream=None) -> logging.Handler:
    """Replace the root logger's handlers by one writing `config.logging`'s format to
    `stream` (stderr); returns the handler."""
    sec = config.logging
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(node) if sec.format == "json" else TextFormatter(node))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(sec.level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)   # the scheduler logs its own summary
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
